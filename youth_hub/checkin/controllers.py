"""HTTP routes of the checkin domain (thin: parse, call a service, render)."""

from typing import Any

ROUTES: list[Any] = []
