"""The QR text of a ticket: `YH1.<p>.<s>` (INTERFACE.md, QR tickets).

`p` is base64url (no padding) of: the 4-byte key id, then the ticket (registration) id and
the program id as unsigned LEB128 varints. `s` is the Ed25519 signature over the ASCII bytes
of `YH1.<p>`. About 100 characters: QR version 6 at correction M.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from youth_hub.tickets.keys import TicketKey, keyring

PREFIX = "YH1"
MAX_QR_TEXT = 200  # anything longer is not ours; refuse before decoding


@dataclass(frozen=True)
class TicketClaims:
    kid: str
    ticket_id: int
    program_id: int


class InvalidTicket(ValueError):
    """The text is not a ticket we signed (format, key or signature wrong)."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not _B64_ALPHABET.issuperset(text):
        raise InvalidTicket("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidTicket("not base64url") from exc
    # Only the canonical spelling: otherwise the unused low bits of the last character would
    # give one signature several valid texts.
    if _b64encode(raw) != text:
        raise InvalidTicket("not canonical base64url")
    return raw


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(raw) and shift <= 56:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise InvalidTicket("truncated payload")


def sign_ticket(data_dir: Path, ticket_id: int, program_id: int) -> str:
    return _signed(keyring(data_dir).signing_key(), ticket_id, program_id)


# Ed25519 signatures are deterministic and a ticket's text never changes, so signing it again
# (each view of the ticket page) or verifying it again (a ticket scanned at every session or
# stop of a tour) gives the same answer: both are remembered per key. The key is looked up in
# the keyring first every time, so a key taken out of it stops answering at once.
@functools.lru_cache(maxsize=4096)
def _signed(key: TicketKey, ticket_id: int, program_id: int) -> str:
    payload = bytes.fromhex(key.kid) + _varint(ticket_id) + _varint(program_id)
    signed = f"{PREFIX}.{_b64encode(payload)}"
    signature = key.private_key.sign(signed.encode("ascii"))
    return f"{signed}.{_b64encode(signature)}"


@functools.lru_cache(maxsize=4096)
def _signature_holds(key: TicketKey, message: bytes, signature: bytes) -> bool:
    try:
        key.public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_ticket(data_dir: Path, text: str) -> TicketClaims:
    """The claims of a ticket we signed with a listed key, or InvalidTicket."""
    text = text.strip()
    if len(text) > MAX_QR_TEXT:
        raise InvalidTicket("too long")
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidTicket("format")
    payload = _b64decode(parts[1])
    signature = _b64decode(parts[2])
    if len(payload) < 6 or len(signature) != 64:
        raise InvalidTicket("format")
    kid = payload[:4].hex()
    key = keyring(data_dir).find(kid)
    if key is None:
        raise InvalidTicket("unknown key")
    if not _signature_holds(key, f"{PREFIX}.{parts[1]}".encode("ascii"), signature):
        raise InvalidTicket("signature")
    ticket_id, pos = _read_varint(payload, 4)
    program_id, pos = _read_varint(payload, pos)
    if pos != len(payload):
        raise InvalidTicket("trailing bytes")
    return TicketClaims(kid=kid, ticket_id=ticket_id, program_id=program_id)
