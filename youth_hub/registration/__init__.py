"""Registrations: eligibility, guardian consent, seats and the waiting list.

Other domains use only what is exported here (tickets: get_registration, cancel_registration,
waitlist_position; catalog: fill_free_seats after a capacity grows; checkin:
register_checkin_reader so staff lists show check-ins).
"""

from youth_hub.registration import housekeeping as _housekeeping  # noqa: F401 (its purges)
from youth_hub.registration import listeners as _listeners  # noqa: F401 (connects signals)
from youth_hub.registration.services import (
    CANCELLED,
    CONFIRMED,
    WAITLISTED,
    RegistrationResult,
    cancel_registration,
    fill_free_seats,
    get_registration,
    promote_registration,
    register_checkin_reader,
    register_participant,
    ticket_url,
    waitlist_position,
)

__all__ = [
    "CANCELLED",
    "CONFIRMED",
    "WAITLISTED",
    "RegistrationResult",
    "cancel_registration",
    "fill_free_seats",
    "get_registration",
    "promote_registration",
    "register_checkin_reader",
    "register_participant",
    "ticket_url",
    "waitlist_position",
]
