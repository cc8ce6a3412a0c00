"""Writing the MIME bytes of an email directly.

Why not `email.message.EmailMessage`: its policy machinery parses every header it is given
and costs about 20 ms per message on the office's small machine, more than the SMTP exchange
itself (bench/dispatch.py); these few lines write the same structure in well under a
millisecond. What comes out is checked in the tests by parsing every sent message back with
`email.policy.default`.

The structure: multipart/mixed [ multipart/alternative [ text/plain, text/html ],
text/calendar attachment ]; without an attachment the alternative part is the message.
Bodies are quoted-printable (7-bit safe through any relay), the calendar base64, non-ASCII
header values RFC 2047 encoded words; CRLF line ends throughout.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr

# What we put in a header as an address: printable ASCII, one @, nothing that could end the
# header or the address (registration normalises emails; this is the last line of defence).
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
_UNSAFE_HEADER = re.compile(r"[\x00-\x1f\x7f]")
MAX_ADDRESS = 254


class MimeError(ValueError):
    """A header or an address that cannot be written safely."""


@dataclass(frozen=True)
class Attachment:
    content: str
    mimetype: str  # e.g. "text/calendar"
    filename: str
    params: str = ""  # extra Content-Type parameters, e.g. "; method=PUBLISH"


class Encoded(str):
    """A header value already encoded (an address header): written as it is."""

    __slots__ = ()


def check_address(address: str) -> str:
    if len(address) > MAX_ADDRESS or not _ADDRESS.match(address):
        raise MimeError(f"unusable address {address[:80]!r}")
    return address


def header_value(name: str, value: str) -> str:
    """ASCII as is; anything else as RFC 2047 encoded words, folded with CRLF."""
    if isinstance(value, Encoded):
        return value
    if _UNSAFE_HEADER.search(value):
        raise MimeError(f"{name} holds a line break or a control character")
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def mailbox(display_name: str, address: str) -> Encoded:
    address = check_address(address)
    if not display_name:
        return Encoded(address)
    if _UNSAFE_HEADER.search(display_name):
        raise MimeError("a display name holds a line break or a control character")
    if display_name.isascii():
        return Encoded(formataddr((display_name, address)))
    encoded = Header(display_name, "utf-8", header_name="To").encode(linesep="\r\n")
    return Encoded(f"{encoded} <{address}>")


def _quoted_printable(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _text_part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + _quoted_printable(text)


def _attachment_part(attachment: Attachment) -> bytes:
    body = base64.encodebytes(attachment.content.encode("utf-8")).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {attachment.mimetype}; charset="utf-8"{attachment.params}\r\n'
        f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii") + body


def compose(
    headers: Sequence[tuple[str, str]],
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """The whole message. `headers` are (name, value) pairs, values not yet encoded."""
    # "=_" never occurs in quoted-printable or base64 output: the boundary cannot collide.
    token = secrets.token_hex(12)
    alternative, mixed = f"=_yh_a_{token}", f"=_yh_m_{token}"
    lines = [f"{name}: {header_value(name, value)}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    body = b"".join(
        (
            f"--{alternative}\r\n".encode("ascii"),
            _text_part("plain", text),
            f"\r\n--{alternative}\r\n".encode("ascii"),
            _text_part("html", html),
            f"\r\n--{alternative}--\r\n".encode("ascii"),
        )
    )
    alternative_type = f'multipart/alternative; boundary="{alternative}"'
    if not attachments:
        lines.append(f"Content-Type: {alternative_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
    lines.append(f'Content-Type: multipart/mixed; boundary="{mixed}"')
    parts = [
        ("\r\n".join(lines) + "\r\n\r\n").encode("ascii"),
        f"--{mixed}\r\nContent-Type: {alternative_type}\r\n\r\n".encode("ascii"),
        body,
    ]
    for attachment in attachments:
        parts += [f"--{mixed}\r\n".encode("ascii"), _attachment_part(attachment), b"\r\n"]
    parts.append(f"--{mixed}--\r\n".encode("ascii"))
    return b"".join(parts)
