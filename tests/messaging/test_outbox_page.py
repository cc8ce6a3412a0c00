"""/manage/outbox: who sees which messages, filters, bad input, the rendered text, the audit
log, retrying a failed message."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.accounts.helpers import csrf_from, sign_in
from tests.factories import make_program, make_staff
from tests.messaging.support import add_registration
from tests.support.client import in_loop_client
from youth_hub.accounts.tables import AuditLog
from youth_hub.messaging import enqueue_message
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.settings import Settings

HOSTILE = "<img src=x onerror=alert(1)> {{7*7}} 🎉"


@pytest.fixture
async def page_client(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    # The app and the test in one event loop (PostgreSQL pools belong to one loop).
    async with in_loop_client(app) as client:
        yield client


async def _message(
    program: dict[str, Any],
    settings: Settings,
    *,
    name: str = "Ayu",
    state: str = "pending",
    kind: str = "confirmation",
) -> int:
    registration = await add_registration(program, full_name=name)
    row_id = await enqueue_message(
        kind=kind,
        to_email=registration["email"],
        to_name=name,
        ticket_code=registration["code"],
        program_id=program["id"],
        base_url=settings.base_url,
    )
    assert row_id is not None
    if state != "pending":
        await (
            OutboxMessage.update(
                {OutboxMessage.state: state, OutboxMessage.last_error: "550 No such user here"}
            )
            .where(OutboxMessage.id == row_id)
            .run()
        )
    return row_id


async def _world(settings: Settings) -> dict[str, Any]:
    mine_owner = await make_staff("organiser")
    other_owner = await make_staff("organiser")
    mine = await make_program(organiser=mine_owner, title="Kelas Saya")
    other = await make_program(organiser=other_owner, title="Kelas Orang Lain")
    return {
        "organiser": mine_owner,
        "office": await make_staff("dinporapar"),
        "scanner": await make_staff("scanner"),
        "mine": await _message(mine, settings, name=HOSTILE),
        "mine_failed": await _message(mine, settings, state="failed"),
        "other": await _message(other, settings, name="Budi Santoso"),
    }


def _ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/manage/outbox/(\d+)"', html)}


async def test_anonymous_and_scanners_are_kept_out(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    response = await page_client.get("/manage/outbox", follow_redirects=False)
    assert response.status_code in (302, 303) and "/login" in response.headers["location"]
    await sign_in(page_client, world["scanner"]["email"])
    assert (await page_client.get("/manage/outbox")).status_code == 403
    assert (await page_client.get(f"/manage/outbox/{world['mine']}")).status_code == 403


async def test_office_sees_every_message_escaped_with_the_banner(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["office"]["email"])
    response = await page_client.get("/manage/outbox")
    assert response.status_code == 200
    html = response.text
    assert _ids(html) == {world["mine"], world["mine_failed"], world["other"]}
    assert "Email belum dikonfigurasi" in html  # no YOUTH_HUB_SMTP_URL: messages stay here
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; {{7*7}} 🎉" in html
    assert "550 No such user here" in html
    assert response.headers["cache-control"] == "no-store"
    assert 'hx-history="false"' in html
    audit = await AuditLog.select().where(AuditLog.action == "outbox.list").run()
    assert [a["actor"] for a in audit] == [world["office"]["id"]]
    english = await page_client.get("/manage/outbox?lang=en")
    assert "Email is not configured" in english.text and "Outbox" in english.text


async def test_organiser_sees_only_their_programs_messages(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["organiser"]["email"])
    html = (await page_client.get("/manage/outbox")).text
    assert _ids(html) == {world["mine"], world["mine_failed"]}
    assert "Budi Santoso" not in html and "Kelas Orang Lain" not in html
    assert (await page_client.get(f"/manage/outbox/{world['other']}")).status_code == 404
    token = csrf_from((await page_client.get(f"/manage/outbox/{world['mine_failed']}")).text)
    response = await page_client.post(
        f"/manage/outbox/{world['other']}/retry",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 404


async def test_state_filter_and_fragment(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["office"]["email"])
    response = await page_client.get("/manage/outbox?state=failed")
    assert _ids(response.text) == {world["mine_failed"]}
    fragment = await page_client.get(
        "/manage/outbox?state=pending&kind=confirmation", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert _ids(fragment.text) == {world["mine"], world["other"]}
    assert "HX-Request" in fragment.headers["vary"]
    none = await page_client.get("/manage/outbox?kind=digest")
    assert _ids(none.text) == set() and "Tidak ada pesan di sini." in none.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("state=%3Cscript%3E", "state", "Status: pilih salah satu dari daftar."),
        ("state=" + "x" * 5000, "state", "Status: pilih salah satu dari daftar."),
        ("kind=%7B%7B7*7%7D%7D", "kind", "Jenis: pilih salah satu dari daftar."),
        ("page=-1", "page", "Halaman: isi dengan bilangan bulat mulai dari 1."),
        ("page=99999999999999999999", "page", "Halaman: isi dengan bilangan bulat mulai dari 1."),
        ("page=%F0%9F%8E%89", "page", "Halaman: isi dengan bilangan bulat mulai dari 1."),
    ],
)
async def test_bad_filters_are_explained(
    page_client: httpx.AsyncClient, settings: Settings, query: str, field: str, message: str
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["office"]["email"])
    response = await page_client.get(f"/manage/outbox?{query}")
    assert response.status_code == 422
    assert message in response.text
    assert "<script>" not in response.text
    if field in {"state", "kind"}:
        assert f'aria-describedby="outbox-{field}-error"' in response.text
    assert _ids(response.text) == set()


async def test_message_page_shows_the_rendered_text_and_is_audited(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["organiser"]["email"])
    response = await page_client.get(f"/manage/outbox/{world['mine']}")
    assert response.status_code == 200
    html = response.text
    assert "Tiket Anda: Kelas Saya" in html  # the subject, in the registrant's language
    assert "Pendaftaran Anda terkonfirmasi" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert response.headers["cache-control"] == "no-store"
    audit = await AuditLog.select().where(AuditLog.action == "outbox.view").run()
    assert [(a["actor"], a["target"]) for a in audit] == [
        (world["organiser"]["id"], f"outbox:{world['mine']}")
    ]
    for missing in ("999999", "99999999999999999999", "abc", "-1"):
        assert (await page_client.get(f"/manage/outbox/{missing}")).status_code == 404


async def test_a_failed_message_can_be_sent_again(
    page_client: httpx.AsyncClient, settings: Settings
) -> None:
    world = await _world(settings)
    await sign_in(page_client, world["organiser"]["email"])
    page = await page_client.get(f"/manage/outbox/{world['mine_failed']}")
    assert "Kirim ulang" in page.text
    # without the CSRF token: refused, nothing changes
    refused = await page_client.post(
        f"/manage/outbox/{world['mine_failed']}/retry", follow_redirects=False
    )
    assert refused.status_code == 403
    row = await OutboxMessage.select().where(OutboxMessage.id == world["mine_failed"]).first().run()
    assert row["state"] == "failed"
    response = await page_client.post(
        f"/manage/outbox/{world['mine_failed']}/retry",
        data={"_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    row = await OutboxMessage.select().where(OutboxMessage.id == world["mine_failed"]).first().run()
    assert (row["state"], row["attempts"], row["last_error"]) == ("pending", 0, "")


async def test_no_banner_when_email_is_configured(engine: Any, settings: Settings) -> None:
    from youth_hub.app import create_app

    staff = await make_staff("admin")
    app = create_app(
        dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:2525"), run_scheduler=False
    )
    async with in_loop_client(app) as client:
        await sign_in(client, staff["email"])
        response = await client.get("/manage/outbox")
        assert response.status_code == 200 and "Email belum dikonfigurasi" not in response.text
