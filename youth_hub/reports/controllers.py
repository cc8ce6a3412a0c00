"""HTTP routes of the reports domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
