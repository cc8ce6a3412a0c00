"""HTTP routes of the tickets domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
