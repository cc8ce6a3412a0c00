"""Ticket pages, images, calendar file and API, for each status, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import zxingcpp
from icalendar import Calendar
from PIL import Image

from tests.factories import make_program, make_registration, make_staff
from youth_hub.catalog.tables import Program
from youth_hub.registration import register_participant
from youth_hub.registration.tables import Registration
from youth_hub.settings import Settings
from youth_hub.tickets import (
    register_checkins_provider,
    rotate_keys,
    unregister_checkins_provider,
    verify_ticket,
)

WIB = ZoneInfo("Asia/Jakarta")
Client = httpx.AsyncClient
HOSTILE_CODES = [
    "nope",
    "A" * 65,
    "A" * 5000,
    "%00" * 10,
    "abc%00defghijk",
    "..%2F..%2Fetc%2Fpasswd",
    "' OR 1=1 --abcdef",
    "%F0%9F%8E%9F%F0%9F%8E%9F%F0%9F%8E%9F",
    "ꦥꦸꦂꦧꦭꦶꦁꦒꦥꦸꦂꦧꦭꦶꦁꦒ",
    "{{7*7}}{{7*7}}",
    "QUFBQUFBQUFBQUFBQUFBQUFBQUE",  # well-formed, unknown
]


def assert_private(response: Any) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-robots-tag"] == "noindex"


def decode_png(body: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(body)))]


def person(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "full_name": f"Ayu Lestari {n}",
        "email": f"ayu{n}@example.test",
        "phone": f"0812345678{n:02d}",
        "birth_date": "2004-03-01",
        "kecamatan": "Bukateja",
        **extra,
    }


async def csrf_post(client: Client, code: str, **headers: str) -> Any:
    """Open the confirmation page as a person would, then send its form."""
    page = await client.get(f"/tickets/{code}/cancel")
    assert page.status_code == 200
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token, "the confirmation form carries the CSRF token"
    return await client.post(
        f"/tickets/{code}/cancel",
        data={"_csrf_token": token.group(1)},
        headers=headers,
        follow_redirects=False,
    )


async def status_of(code: str) -> str:
    row = await Registration.select(Registration.status).where(Registration.code == code).first()
    assert row is not None
    return str(row["status"])


# ------------------------------------------------------------------------------------ pages


async def test_confirmed_ticket_page_shows_qr_schedule_venue_and_actions(client: Client) -> None:
    organiser = await make_staff("organiser", name="Dr. Sri Wahyuni")
    program = await make_program(title="Kelas Kepemimpinan Pemuda", sessions=2, organiser=organiser)
    reg = await make_registration(program, full_name="Ayu Lestari")
    response = await client.get(f"/tickets/{reg['code']}")
    assert response.status_code == 200
    assert_private(response)
    assert "HX-Request" in response.headers["vary"]
    html = response.text
    assert '<meta name="robots" content="noindex">' in html
    assert 'hx-history="false"' in html
    assert "Terkonfirmasi" in html
    assert "Kelas Kepemimpinan Pemuda" in html and "Ayu Lestari" in html
    svg = re.search(r"<svg[^>]*class=\"qr\".*?</svg>", html, re.S)
    assert svg, "the QR is inline as SVG"
    root = ET.fromstring(svg.group(0))
    assert root.attrib["role"] == "img" and root.attrib["aria-label"] == "Kode QR tiket Anda"
    assert f"/tickets/{reg['code']}/qr.png" in html and f"/tickets/{reg['code']}/qr.svg" in html
    assert f"/tickets/{reg['code']}/event.ics" in html
    assert f'href="/tickets/{reg["code"]}/cancel"' in html
    assert "Session 1" in html and "Session 2" in html and "Pendopo Dipokusumo" in html
    assert "Penyelenggara" in html and "Dr. Sri Wahyuni" in html
    assert "tickets.css" in html
    assert "every 60s" not in html  # only a waiting-list ticket polls
    assert " style=" not in html and "<script>" not in html  # strict CSP


async def test_page_in_english_when_asked(client: Client) -> None:
    reg = await make_registration(await make_program())
    html = (await client.get(f"/tickets/{reg['code']}?lang=en")).text
    assert "Confirmed" in html and "Add to calendar" in html


async def test_waitlisted_ticket_shows_its_place_and_no_qr_anywhere(client: Client) -> None:
    program = await make_program(capacity=1)
    await make_registration(program)
    first = await make_registration(program, status="waitlisted")
    second = await make_registration(program, status="waitlisted")
    response = await client.get(f"/tickets/{second['code']}")
    assert response.status_code == 200
    assert_private(response)
    html = response.text
    assert "Dalam daftar tunggu" in html
    assert re.search(r"Nomor urut Anda di daftar tunggu\s*<strong>2</strong>", html)
    assert "<svg" not in html and "qr.png" not in html and "qr.svg" not in html
    # the page looks for a promotion by itself (htmx), inside the actions the confirm box replaces
    actions = html.split('id="ticket-actions"', 1)[1].split("</div>", 1)[0]
    assert f'hx-get="/tickets/{second["code"]}" hx-trigger="every 60s"' in actions
    for path in ("qr.svg", "qr.png"):
        assert (await client.get(f"/tickets/{second['code']}/{path}")).status_code == 404
    body = (await client.get(f"/api/v1/tickets/{first['code']}")).json()
    assert body["status"] == "waitlisted" and body["waitlist_position"] == 1
    assert body["qr"] is None


async def test_cancelled_ticket_is_clearly_cancelled_without_qr(client: Client) -> None:
    reg = await make_registration(await make_program(), status="cancelled")
    response = await client.get(f"/tickets/{reg['code']}")
    assert response.status_code == 200
    assert_private(response)
    html = response.text
    assert "Dibatalkan" in html and "Tiket ini sudah dibatalkan." in html
    assert "<svg" not in html and "qr.png" not in html
    assert f"/tickets/{reg['code']}/cancel" not in html  # nothing left to cancel
    for path in ("qr.svg", "qr.png"):
        assert (await client.get(f"/tickets/{reg['code']}/{path}")).status_code == 404
    body = (await client.get(f"/api/v1/tickets/{reg['code']}")).json()
    assert body["status"] == "cancelled" and body["qr"] is None
    assert body["waitlist_position"] is None


async def test_ticket_of_a_cancelled_program_has_no_qr(client: Client) -> None:
    program = await make_program(status="cancelled")
    reg = await make_registration(program)
    html = (await client.get(f"/tickets/{reg['code']}")).text
    assert "Program ini dibatalkan oleh penyelenggara" in html
    assert "<svg" not in html
    assert (await client.get(f"/tickets/{reg['code']}/qr.png")).status_code == 404
    assert (await client.get(f"/api/v1/tickets/{reg['code']}")).json()["qr"] is None


async def test_tour_ticket_shows_the_itinerary_by_day(client: Client) -> None:
    program = await make_program(kind="tour", sessions=2)
    reg = await make_registration(program)
    html = (await client.get(f"/tickets/{reg['code']}")).text
    assert "Wisata Edukatif" in html and "Rencana perjalanan" in html
    assert "Hari ke-1" in html and "Hari ke-2" in html


async def test_names_are_shown_escaped(client: Client) -> None:
    reg = await make_registration(
        await make_program(), full_name="<script>alert(1)</script> {{7*7}} ꦄꦪꦸ 🎉"
    )
    html = (await client.get(f"/tickets/{reg['code']}")).text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}} ꦄꦪꦸ 🎉" in html


async def test_htmx_request_gets_the_ticket_fragment(client: Client) -> None:
    reg = await make_registration(await make_program())
    response = await client.get(f"/tickets/{reg['code']}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert_private(response)
    assert "<html" not in response.text and 'id="ticket"' in response.text
    assert "<svg" in response.text


@pytest.mark.parametrize("code", HOSTILE_CODES)
async def test_unknown_or_hostile_codes_are_404_everywhere(client: Client, code: str) -> None:
    for path in (
        f"/tickets/{code}",
        f"/tickets/{code}/qr.svg",
        f"/tickets/{code}/qr.png",
        f"/tickets/{code}/event.ics",
        f"/tickets/{code}/cancel",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text
    page = await client.get(f"/tickets/{code}")
    assert "Halaman tidak ditemukan" in page.text
    api = await client.get(f"/api/v1/tickets/{code}")
    assert api.status_code == 404 and api.json()["detail"]
    cancel = await client.post(f"/api/v1/tickets/{code}/cancel")
    assert cancel.status_code == 404 and cancel.json()["detail"]


# ------------------------------------------------------------------------- images, calendar


async def test_qr_images_decode_to_the_signed_text(client: Client, settings: Settings) -> None:
    program = await make_program()
    reg = await make_registration(program)
    api = (await client.get(f"/api/v1/tickets/{reg['code']}")).json()
    text = api["qr"]
    claims = verify_ticket(settings.data_dir, text)
    assert (claims.ticket_id, claims.program_id) == (reg["id"], program["id"])

    png = await client.get(f"/tickets/{reg['code']}/qr.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert_private(png)
    assert decode_png(png.content) == [text]

    svg = await client.get(f"/tickets/{reg['code']}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert_private(svg)
    root = ET.fromstring(svg.text)
    assert root.attrib["role"] == "img"
    assert len(root.findall("{http://www.w3.org/2000/svg}path")) == 1

    # the page shows the same code
    page = (await client.get(f"/tickets/{reg['code']}")).text
    path_d = root.find("{http://www.w3.org/2000/svg}path").attrib["d"]  # type: ignore[union-attr]
    assert path_d in page


async def test_event_ics_has_each_session_in_wib_with_an_alarm(client: Client) -> None:
    start = datetime(2027, 2, 6, 1, 30, tzinfo=UTC)  # 08:30 WIB
    program = await make_program(
        title="Klinik Bulu Tangkis", kind="sport", starts_at=start, sessions=3
    )
    reg = await make_registration(program)
    response = await client.get(f"/tickets/{reg['code']}/event.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert 'attachment; filename="' in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith('.ics"')
    assert_private(response)
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [e.decoded("dtstart") for e in events] == [
        datetime(2027, 2, 6, 8, 30, tzinfo=WIB) + timedelta(days=7 * i) for i in range(3)
    ]
    assert [e.decoded("dtend") for e in events] == [
        datetime(2027, 2, 6, 11, 30, tzinfo=WIB) + timedelta(days=7 * i) for i in range(3)
    ]
    assert all(e.decoded("dtstart").tzinfo.key == "Asia/Jakarta" for e in events)
    assert all(e.walk("VALARM")[0].decoded("trigger") == -timedelta(hours=2) for e in events)
    assert all(str(e["url"]).endswith(f"/tickets/{reg['code']}") for e in events)
    assert calendar.get_missing_tzids() == set()
    again = Calendar.from_ical((await client.get(f"/tickets/{reg['code']}/event.ics")).content)
    assert [e["uid"] for e in again.walk("VEVENT")] == [e["uid"] for e in events]


async def test_event_ics_of_a_cancelled_ticket_cancels_the_events(client: Client) -> None:
    reg = await make_registration(await make_program(), status="cancelled")
    calendar = Calendar.from_ical((await client.get(f"/tickets/{reg['code']}/event.ics")).content)
    assert [e["status"] for e in calendar.walk("VEVENT")] == ["CANCELLED"]


# ------------------------------------------------------------------------------------- API


async def test_api_ticket_shape(client: Client, settings: Settings) -> None:
    program = await make_program(title="Wirausaha Muda", sessions=2)
    reg = await make_registration(program)
    response = await client.get(f"/api/v1/tickets/{reg['code']}")
    assert response.status_code == 200
    assert_private(response)
    body = response.json()
    assert {"code", "status", "program", "waitlist_position", "qr", "checkins"} <= set(body)
    assert body["code"] == reg["code"] and body["status"] == "confirmed"
    assert body["program"]["slug"] == program["slug"]
    assert body["program"]["title"] == "Wirausaha Muda"
    assert body["program"]["kind"] == "workshop"
    assert len(body["program"]["sessions"]) == 2
    assert body["waitlist_position"] is None
    assert body["checkins"] == []
    assert verify_ticket(settings.data_dir, body["qr"]).ticket_id == reg["id"]
    assert "email" not in body and "phone" not in body and "birth_date" not in body


async def test_api_checkins_come_from_registered_providers(client: Client) -> None:
    reg = await make_registration(await make_program())

    async def provider(registration: Any) -> list[dict[str, Any]]:
        return [
            {
                "session_id": 1,
                "checked_in_at": "2026-12-05T08:01:00+07:00",
                "registration": registration["id"],
            }
        ]

    register_checkins_provider(provider)
    try:
        body = (await client.get(f"/api/v1/tickets/{reg['code']}")).json()
    finally:
        unregister_checkins_provider(provider)
    assert body["checkins"] == [
        {"session_id": 1, "checked_in_at": "2026-12-05T08:01:00+07:00", "registration": reg["id"]}
    ]


async def test_api_cancel_promotes_the_first_waiting(client: Client) -> None:
    program = await make_program(capacity=1)
    base = "http://testserver.local"
    first = await register_participant(program["slug"], person(1), base_url=base)
    second = await register_participant(program["slug"], person(2), base_url=base)
    third = await register_participant(program["slug"], person(3), base_url=base)
    assert (first.status, second.status, third.status) == ("confirmed", "waitlisted", "waitlisted")

    response = await client.post(f"/api/v1/tickets/{first.code}/cancel")
    assert response.status_code == 200
    assert response.json() == {"status": "cancelled"}
    assert await status_of(first.code) == "cancelled"
    promoted = (await client.get(f"/api/v1/tickets/{second.code}")).json()
    assert promoted["status"] == "confirmed" and promoted["qr"]
    assert (await client.get(f"/api/v1/tickets/{third.code}")).json()["waitlist_position"] == 1

    again = await client.post(f"/api/v1/tickets/{first.code}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == "Tiket ini sudah dibatalkan."
    assert (await client.post("/api/v1/tickets/QUFBQUFBQUFBQUFBQUFB/cancel")).status_code == 404


# ------------------------------------------------------------------------------ cancel flow


async def test_cancel_through_the_page_asks_first_then_cancels_with_csrf(client: Client) -> None:
    program = await make_program(capacity=1)
    base = "http://testserver.local"
    holder = await register_participant(program["slug"], person(1), base_url=base)
    waiting = await register_participant(program["slug"], person(2), base_url=base)

    confirm = await client.get(f"/tickets/{holder.code}/cancel")
    assert confirm.status_code == 200
    assert_private(confirm)
    assert "Batalkan pendaftaran ini?" in confirm.text
    assert 'method="post"' in confirm.text
    assert await status_of(holder.code) == "confirmed"  # GET changes nothing

    response = await csrf_post(client, holder.code)
    assert response.status_code == 303
    assert response.headers["location"] == f"/tickets/{holder.code}"
    assert await status_of(holder.code) == "cancelled"
    assert await status_of(waiting.code) == "confirmed"
    page = await client.get(f"/tickets/{holder.code}")
    assert "Tiket ini sudah dibatalkan." in page.text

    # a second tap (or a reload of the form) is harmless: back to the cancelled ticket
    assert (
        await client.get(f"/tickets/{holder.code}/cancel", follow_redirects=False)
    ).status_code == 303
    token = re.search(
        r'name="_csrf_token" value="([^"]+)"',
        (await client.get(f"/tickets/{waiting.code}/cancel")).text,
    )
    assert token
    replay = await client.post(
        f"/tickets/{holder.code}/cancel",
        data={"_csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert replay.status_code == 303


async def test_cancel_without_csrf_token_is_refused_and_changes_nothing(client: Client) -> None:
    reg = await make_registration(await make_program())
    response = await client.post(f"/tickets/{reg['code']}/cancel", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert await status_of(reg["code"]) == "confirmed"
    forged = await client.post(
        f"/tickets/{reg['code']}/cancel",
        data={"_csrf_token": "forged-token-value"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert await status_of(reg["code"]) == "confirmed"


async def test_cancel_with_htmx_swaps_the_ticket_in_place(client: Client) -> None:
    reg = await make_registration(await make_program())
    fragment = await client.get(f"/tickets/{reg['code']}/cancel", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', fragment.text)
    assert token
    response = await client.post(
        f"/tickets/{reg['code']}/cancel",
        headers={"HX-Request": "true", "x-csrftoken": token.group(1)},
    )
    assert response.status_code == 200
    assert_private(response)
    assert response.headers["hx-replace-url"] == f"/tickets/{reg['code']}"
    assert "<html" not in response.text and 'id="ticket"' in response.text
    assert "Tiket ini sudah dibatalkan." in response.text
    assert await status_of(reg["code"]) == "cancelled"


async def test_signed_in_staff_cancels_their_own_ticket_like_anyone(client: Client) -> None:
    # the code is the authority; an unrelated Bearer token must not turn it into a 404
    from tests.factories import make_token

    token = await make_token(await make_staff("organiser"))
    reg = await make_registration(await make_program())
    response = await client.post(
        f"/api/v1/tickets/{reg['code']}/cancel", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert await status_of(reg["code"]) == "cancelled"


# ----------------------------------------------------------------------------- key rotation


async def test_new_tickets_use_a_rotated_key_and_old_ones_still_verify(
    client: Client, settings: Settings
) -> None:
    program = await make_program()
    reg = await make_registration(program)
    before = (await client.get(f"/api/v1/tickets/{reg['code']}")).json()["qr"]
    new_kid = rotate_keys(settings.data_dir)
    after = (await client.get(f"/api/v1/tickets/{reg['code']}")).json()["qr"]
    assert after != before
    assert verify_ticket(settings.data_dir, after).kid == new_kid
    assert verify_ticket(settings.data_dir, before).ticket_id == reg["id"]
    page = (await client.get(f"/tickets/{reg['code']}/qr.png")).content
    assert decode_png(page) == [after]


async def test_program_row_change_is_reflected(client: Client) -> None:
    program = await make_program(title="Lama")
    reg = await make_registration(program)
    await Program.update({Program.title: "Baru"}).where(Program.id == program["id"]).run()
    assert "Baru" in (await client.get(f"/tickets/{reg['code']}")).text
