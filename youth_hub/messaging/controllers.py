"""HTTP routes of the messaging domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
