"""Every kind of message, rendered in Indonesian and English and delivered to a real SMTP
server: headers, parts, language, escaping, calendar attachment."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import escape

from tests.factories import make_program, make_staff
from tests.messaging.support import MailServer, add_registration, html_part, text_part
from youth_hub.messaging import KINDS, enqueue_message
from youth_hub.messaging.rendering import ICS_KINDS
from youth_hub.messaging.services import send_due_messages
from youth_hub.settings import Settings

HOSTILE_NAME = '<script>alert("x")</script> {{7*7}} =SUM(A1) ꦲꦏ꧀ꦱꦫ 🎉'
HOSTILE_TITLE = "<b>Kelas</b> {{7*7}} & Co"

# A phrase of each kind's body, per language: the message really is in that language.
PHRASES = {
    "confirmation": ("kursi Anda sudah tersimpan", "your seat is saved"),
    "waitlisted": ("masuk daftar tunggu", "on the waiting list"),
    "promoted": ("Kabar baik", "Good news"),
    "cancelled": ("sudah dibatalkan", "has been cancelled"),
    "reminder": ("Pengingat:", "A reminder:"),
    "changed": ("Jadwal atau tempat", "The schedule or place"),
    "program_cancelled": ("dibatalkan oleh penyelenggara", "cancelled by its organiser"),
    "my_tickets": ("semua tiket Anda", "all your tickets"),
    "certificate": ("Sertifikat Anda sudah siap", "Your certificate is ready"),
    "feedback": ("Ceritakan kepada kami", "Tell us in a minute"),
    "digest": ("Pendaftaran baru pada", "New registrations on"),
}


async def _enqueue_every_kind(settings: Settings, language: str) -> dict[str, Any]:
    organiser = await make_staff("organiser")
    program = await make_program(title=HOSTILE_TITLE, organiser=organiser)
    registration = await add_registration(program, full_name=HOSTILE_NAME, language=language)
    for kind in sorted(KINDS):
        ticket = None if kind in {"my_tickets", "digest"} else registration["code"]
        context: dict[str, Any] = {}
        if kind == "reminder":
            context = {"offset": 1440}
        if kind == "digest":
            context = {
                "day": "2026-12-01",
                "programs": [
                    {
                        "title": HOSTILE_TITLE,
                        "count": 1,
                        "confirmed": 1,
                        "waitlisted": 0,
                        "names": [{"name": HOSTILE_NAME, "status": "confirmed"}],
                    }
                ],
            }
        if kind == "my_tickets":
            context = {"link": f"{settings.base_url}/my/token123", "valid_minutes": 30}
        await enqueue_message(
            kind=kind,
            to_email=registration["email"],
            to_name=HOSTILE_NAME,
            language=language,
            ticket_code=ticket,
            program_id=None if kind in {"my_tickets", "digest"} else program["id"],
            base_url=settings.base_url,
            context=context,
        )
    return registration


@pytest.mark.parametrize("language", ["id", "en"])
async def test_every_kind_rendered_with_its_headers_and_parts(
    engine: Any, mail_settings: Settings, smtp: MailServer, language: str
) -> None:
    registration = await _enqueue_every_kind(mail_settings, language)
    report = await send_due_messages(mail_settings)
    assert report.sent == len(KINDS) and report.failed == 0, report
    assert set(smtp.kinds()) == KINDS
    assert all(count == 1 for count in smtp.message_ids().values())
    for message in smtp.messages:
        kind = str(message["X-Youth-Hub-Kind"])
        assert message["From"] == "Youth Hub Purbalingga <noreply@youthhub.test>"
        assert message["To"].addresses[0].addr_spec == registration["email"]
        # (the parser may put a space between RFC 2047 encoded words)
        shown = message["To"].addresses[0].display_name
        assert shown.split() == HOSTILE_NAME.split()
        assert message["Date"] is not None
        assert message["Message-ID"].startswith("<")
        assert message["Message-ID"].endswith("@testserver.local>")
        assert message["Content-Language"] == language
        if kind in {"my_tickets", "digest"}:
            assert message["X-Youth-Hub-Ticket"] is None
        else:
            assert message["X-Youth-Hub-Ticket"] == registration["code"]
        text, html = text_part(message), html_part(message)
        indonesian, english = PHRASES[kind]
        expected, other = (indonesian, english) if language == "id" else (english, indonesian)
        assert expected in text and expected in html, (kind, text)
        assert other not in text, (kind, text)
        # Personal data is written as typed: plain in the text, escaped in the HTML.
        assert HOSTILE_NAME in text  # {{7*7}} written as typed, never evaluated
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "{{7*7}}" in html
        if kind not in {"my_tickets", "digest"}:
            assert "&lt;b&gt;Kelas&lt;/b&gt;" in html and "<b>Kelas</b>" in text
        if kind not in {"my_tickets", "digest", "cancelled", "program_cancelled"}:
            assert f"{mail_settings.base_url}/tickets/{registration['code']}" in text
        attachments = [p for p in message.iter_attachments()]
        if kind in ICS_KINDS:
            assert len(attachments) == 1
            assert attachments[0].get_content_type() == "text/calendar"
            assert "BEGIN:VCALENDAR" in attachments[0].get_content()
        else:
            assert attachments == []


async def test_times_are_shown_in_wib(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    from datetime import UTC, datetime

    # 02:00 UTC is 09.00 WIB.
    program = await make_program(starts_at=datetime(2027, 3, 1, 2, 0, tzinfo=UTC))
    registration = await add_registration(program, language="id")
    await enqueue_message(
        kind="reminder",
        to_email=registration["email"],
        language="id",
        ticket_code=registration["code"],
        program_id=program["id"],
        base_url=mail_settings.base_url,
        context={"offset": 120},
    )
    await send_due_messages(mail_settings)
    text = text_part(smtp.messages[0])
    assert "09.00 WIB" in text and "1 Mar 2027" in text


async def test_subject_cannot_inject_headers(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    program = await make_program(title="Kelas\r\nBcc: victim@example.test")
    registration = await add_registration(program, full_name="Ayu\r\nBcc: x@example.test")
    await enqueue_message(
        kind="confirmation",
        to_email=registration["email"],
        to_name=registration["full_name"],
        ticket_code=registration["code"],
        program_id=program["id"],
        base_url=mail_settings.base_url,
    )
    report = await send_due_messages(mail_settings)
    assert report.sent == 1
    message = smtp.messages[0]
    assert message["Bcc"] is None
    assert "\n" not in str(message["Subject"])


async def test_calendar_file_is_the_tickets_own(engine: Any, mail_settings: Settings) -> None:
    """Built once per program and written in per ticket: the same file tickets would give."""
    import re

    from youth_hub.messaging.rendering import ics_for, load_message_data
    from youth_hub.tickets import program_ics

    program = await make_program(
        title="Wisata Edukatif Desa Wisata Serang 🌄, Karangreja", kind="tour", sessions=3
    )
    rows = []
    for language in ("id", "en", "id"):
        registration = await add_registration(program, language=language)
        rows.append(
            {
                "kind": "confirmation",
                "ticket_code": registration["code"],
                "program": program["id"],
                "language": language,
            }
        )
    data = await load_message_data(rows)

    def unfolded(text: str) -> list[str]:
        lines = re.sub(r"\r\n[ \t]", "", text).split("\r\n")
        return [line for line in lines if not line.startswith("DTSTAMP")]

    for row in rows:
        ours = ics_for(row, data, mail_settings)
        assert ours is not None
        assert all(len(line.encode()) <= 75 for line in ours.split("\r\n"))
        theirs = program_ics(
            data.programs[program["id"]],
            data.programs[program["id"]]["sessions"],
            f"{mail_settings.base_url}/tickets/{row['ticket_code']}",
            row["language"],
            timezone=mail_settings.timezone,
        ).decode()
        assert unfolded(ours) == unfolded(theirs)
        assert f"/tickets/{row['ticket_code']}" in ours.replace("\r\n ", "")
    assert len(data.calendars) == 2  # one per language


async def test_registrants_of_one_program_each_get_their_own_name_and_ticket(
    engine: Any, mail_settings: Settings
) -> None:
    """The text is rendered once per program and language; the name and code are written in
    per message, plain in the text and escaped in the HTML."""
    from youth_hub.messaging.rendering import load_message_data, render_message

    program = await make_program(title="Kelas <i>Desain</i>")
    names = ["Ayu", HOSTILE_NAME, "Bima & Sinta", ""]
    rows = []
    for name in names:
        registration = await add_registration(program, full_name=name or "Tanpa Nama")
        rows.append(
            {
                "kind": "confirmation",
                "ticket_code": registration["code"],
                "program": program["id"],
                "language": "id",
                "to_name": name,
                "context": {},
            }
        )
    data = await load_message_data(rows)
    rendered = [render_message(row, data, mail_settings) for row in rows]
    assert len(data.renders) == 1
    for row, name, message in zip(rows, names, rendered, strict=True):
        url = f"{mail_settings.base_url}/tickets/{row['ticket_code']}"
        assert url in message.text and f'href="{url}"' in message.html
        assert "\x00" not in message.text + message.html
        for other in rows:
            if other is not row:
                assert other["ticket_code"] not in message.text
        shown = name or "Tanpa Nama"  # no name on the row: the registration's
        assert message.text.startswith(f"Halo {shown},")
        assert f"<p>Halo {escape(shown)},</p>" in message.html
    assert "&lt;script&gt;" in rendered[1].html and "<script>" not in rendered[1].html
    assert "Bima &amp; Sinta" in rendered[2].html
