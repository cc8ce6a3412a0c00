"""Tickets: signing keys, the signed QR text, QR images and calendar files.

Other domains use only what is exported here:
- messaging attaches `ticket_calendar(code, ...)` (or `program_ics(...)`) to confirmation
  emails and may inline `qr_png(text)`;
- checkin verifies with `verify_ticket` and lists `public_keys`, and fills the `checkins` of
  `GET /api/v1/tickets/{code}` by calling `register_checkins_provider(provider)`.
"""

from youth_hub.tickets.calendar import program_ics
from youth_hub.tickets.keys import public_keys, rotate_keys
from youth_hub.tickets.qr import qr_png, qr_svg, qr_version
from youth_hub.tickets.services import (
    load_ticket,
    qr_text_for,
    register_checkins_provider,
    ticket_calendar,
    ticket_checkins,
    unregister_checkins_provider,
)
from youth_hub.tickets.signing import InvalidTicket, TicketClaims, sign_ticket, verify_ticket

__all__ = [
    "InvalidTicket",
    "TicketClaims",
    "load_ticket",
    "program_ics",
    "public_keys",
    "qr_png",
    "qr_svg",
    "qr_text_for",
    "qr_version",
    "register_checkins_provider",
    "rotate_keys",
    "sign_ticket",
    "ticket_calendar",
    "ticket_checkins",
    "unregister_checkins_provider",
    "verify_ticket",
]
