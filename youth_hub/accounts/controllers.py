"""HTTP routes of the accounts domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
