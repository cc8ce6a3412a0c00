"""Catalog domain: programs of three kinds (workshop, sport, tour), their sessions or
itinerary stops, topics, publishing.

Other domains use only what is exported here.
"""

from youth_hub.catalog.constants import (
    KECAMATAN,
    KINDS,
    OTHER_KECAMATAN,
    PURBALINGGA_KECAMATAN,
)
from youth_hub.catalog.services import get_program_detail, may_manage

__all__ = [
    "KECAMATAN",
    "KINDS",
    "OTHER_KECAMATAN",
    "PURBALINGGA_KECAMATAN",
    "get_program_detail",
    "may_manage",
]
