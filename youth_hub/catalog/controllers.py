"""HTTP routes of the catalog domain (thin: parse, call a service, render)."""

from typing import Any

from youth_hub.catalog.api import ProgramApiController
from youth_hub.catalog.pages import PAGES

ROUTES: list[Any] = [ProgramApiController, *PAGES]
