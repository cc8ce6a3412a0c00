"""The MIME writer: what it writes parses back as the same message; what it cannot write
safely it refuses."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from youth_hub.messaging import mime


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_message_parses_back_whole() -> None:
    subject = "Pengingat: Lokakarya Kewirausahaan Digital untuk Pemuda ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉 " * 3
    text = "Halo,\n\nbaris yang sangat panjang " * 20 + "\n=3D titik di awal:\n.\n"
    html = "<p>Halo &amp; selamat datang</p>\n" * 10
    data = mime.compose(
        [
            ("Subject", subject.strip()),
            ("From", mime.mailbox("Dinporapar 🏛", "a@b.id")),
            ("To", mime.mailbox('Ayu "Sekar" <Lestari>', "ayu@example.id")),
            ("X-Youth-Hub-Kind", "reminder"),
        ],
        text,
        html,
        [
            mime.Attachment(
                "BEGIN:VCALENDAR\r\nSUMMARY:Kelas 🎉\r\nEND:VCALENDAR\r\n",
                "text/calendar",
                "event.ics",
                "; method=PUBLISH",
            )
        ],
    )
    assert data.isascii()
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    message = _parse(data)
    assert message["Subject"] == subject.strip()
    assert message["From"].addresses[0].display_name == "Dinporapar 🏛"
    assert message["To"].addresses[0].display_name == 'Ayu "Sekar" <Lestari>'
    assert message["To"].addresses[0].addr_spec == "ayu@example.id"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html
    [calendar] = list(message.iter_attachments())
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "PUBLISH"
    assert "Kelas 🎉" in calendar.get_content()


@pytest.mark.parametrize(
    "address",
    [
        "ayu@example.id\r\nBcc: x@y.z",
        "no-at-sign",
        "a@b.c>, evil@x.y",
        "ayu @example.id",
        "ayu@exämple.id",
        "x" * 250 + "@a.id",
        "",
    ],
)
def test_unusable_addresses_are_refused(address: str) -> None:
    with pytest.raises(mime.MimeError):
        mime.mailbox("Ayu", address)


def test_line_breaks_in_headers_are_refused() -> None:
    with pytest.raises(mime.MimeError):
        mime.compose([("Subject", "Hai\r\nBcc: x@y.z")], "t", "h")
    with pytest.raises(mime.MimeError):
        mime.mailbox("Ayu\nBcc: x@y.z", "ayu@example.id")
