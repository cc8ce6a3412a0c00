"""Check-in: scanning signed tickets online and offline, scanner assignments, attendance.

Other domains use only what is exported here. Registration's staff list and the tickets API
show check-ins, but sit below this domain: they read them through the hooks registered here.
"""

from youth_hub.checkin import listeners as _listeners  # noqa: F401 (connects signals)
from youth_hub.checkin.services import (
    RESULTS,
    CheckinAnswer,
    checkins_by_registration,
    checkins_of_ticket,
    perform_checkin,
)
from youth_hub.registration import register_checkin_reader
from youth_hub.tickets import register_checkins_provider

register_checkin_reader(checkins_by_registration)
register_checkins_provider(checkins_of_ticket)

__all__ = [
    "RESULTS",
    "CheckinAnswer",
    "checkins_by_registration",
    "checkins_of_ticket",
    "perform_checkin",
]
