"""The whole path through the real API: register while the mail server is away (registration
works, the confirmation waits), the server comes back (it goes out), cancel (the reminders
are dropped, the cancellation goes out)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.factories import make_program
from tests.messaging.support import mail_server, text_part
from tests.support.client import in_loop_client
from tests.support.live import free_port
from youth_hub.messaging.planning import plan_due_reminders
from youth_hub.messaging.services import send_due_messages
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.settings import Settings


@pytest.fixture
async def api(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with in_loop_client(app) as client:
        yield client


def _person(email: str) -> dict[str, Any]:
    return {
        "full_name": "Sekar Ayu {{7*7}}",
        "email": email,
        "phone": "081234567890",
        "birth_date": "2006-02-14",
        "gender": "female",
        "kecamatan": "Bukateja",
        "village": "Kutawis",
        "school": "SMA Negeri 1 Bukateja",
        "guardian_name": "",
        "guardian_phone": "",
        "guardian_consent": False,
    }


async def _states(kind: str) -> list[tuple[str, str]]:
    rows = (
        await OutboxMessage.select(OutboxMessage.ticket_code, OutboxMessage.state)
        .where(OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
        .run()
    )
    return [(r["ticket_code"], r["state"]) for r in rows]


async def test_registration_works_while_mail_is_away_and_messages_follow(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    program = await make_program(capacity=5, starts_at=datetime.now(UTC) + timedelta(days=4))
    response = await api.post(
        f"/api/v1/programs/{program['slug']}/registrations", json=_person("sekar@example.test")
    )
    assert response.status_code == 201, response.text
    code = response.json()["code"]
    assert await _states("confirmation") == [(code, "pending")]

    port = free_port()  # the mail server is away
    mail = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?timeout=5")
    report = await send_due_messages(mail)
    assert report.stopped == "mail server unreachable"
    assert await _states("confirmation") == [(code, "pending")]
    # still registering while it is away
    second = await api.post(
        f"/api/v1/programs/{program['slug']}/registrations",
        json=_person("bayu@example.test") | {"full_name": "Bayu", "phone": "081298765432"},
    )
    assert second.status_code == 201

    await plan_due_reminders(mail)
    with mail_server(port=port) as smtp:
        later = datetime.now(UTC) + timedelta(minutes=5)  # past the back-off
        report = await send_due_messages(mail, now=later)
        assert report.sent == 2 and smtp.kinds() == {"confirmation": 2}
        first = next(m for m in smtp.messages if m["X-Youth-Hub-Ticket"] == code)
        assert "Sekar Ayu {{7*7}}" in text_part(first)
        assert [p.get_content_type() for p in first.iter_attachments()] == ["text/calendar"]

        cancelled = await api.post(f"/api/v1/tickets/{code}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await plan_due_reminders(mail)
        reminders = [s for c, s in await _states("reminder") if c == code]
        assert reminders == ["dropped", "dropped"]
        await send_due_messages(mail, now=later)
        assert smtp.kinds() == {"confirmation": 2, "cancelled": 1}
