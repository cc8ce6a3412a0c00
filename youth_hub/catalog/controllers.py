"""HTTP routes of the catalog domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
