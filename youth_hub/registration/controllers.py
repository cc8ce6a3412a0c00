"""HTTP routes of the registration domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
