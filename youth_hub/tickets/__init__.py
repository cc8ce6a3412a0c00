"""Tickets: signing keys, the signed QR text, QR images and calendar files.

Other domains use only what is exported here.
"""

from youth_hub.tickets.keys import public_keys, rotate_keys
from youth_hub.tickets.signing import InvalidTicket, TicketClaims, sign_ticket, verify_ticket

__all__ = [
    "InvalidTicket",
    "TicketClaims",
    "public_keys",
    "rotate_keys",
    "sign_ticket",
    "verify_ticket",
]
