"""Sending against a real SMTP server: claims, retries with back-off, permanent refusals,
a server that is away, no server configured, leases, TLS and STARTTLS with a login."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_program
from tests.messaging.support import (
    MailServer,
    add_registration,
    mail_server,
    self_signed_certificate,
)
from tests.support.clock import FrozenClock
from tests.support.live import free_port
from youth_hub.messaging import enqueue_message
from youth_hub.messaging.services import (
    MAX_ATTEMPTS,
    SmtpUrlError,
    backoff,
    parse_smtp_url,
    send_due_messages,
)
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.settings import Settings


async def _queue(settings: Settings, count: int, *, due_at: Any = None) -> list[int]:
    program = await make_program()
    ids = []
    for _ in range(count):
        registration = await add_registration(program)
        new_id = await enqueue_message(
            kind="confirmation",
            to_email=registration["email"],
            to_name=registration["full_name"],
            ticket_code=registration["code"],
            program_id=program["id"],
            base_url=settings.base_url,
            due_at=due_at,
        )
        assert new_id is not None
        ids.append(new_id)
    return ids


async def _row(row_id: int) -> dict[str, Any]:
    row: dict[str, Any] = (
        await OutboxMessage.select().where(OutboxMessage.id == row_id).first().run()
    )
    return row


def test_smtp_urls_are_read_whole() -> None:
    cfg = parse_smtp_url("smtp://mailer:p%40ss%3Aword@mail.example.id:2525?starttls=true")
    assert (cfg.host, cfg.port, cfg.username, cfg.password) == (
        "mail.example.id",
        2525,
        "mailer",
        "p@ss:word",
    )
    assert cfg.start_tls and not cfg.use_tls
    implicit = parse_smtp_url("smtps://relay.example.id")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    assert parse_smtp_url("smtp://localhost").port == 25
    assert parse_smtp_url("smtp://localhost?starttls=true").port == 587
    assert parse_smtp_url("smtp://h:25?timeout=5&cafile=/etc/ca.pem").cert_bundle == "/etc/ca.pem"
    for bad in (
        "http://host",
        "smtp://",
        "smtps://h?starttls=true",
        "smtp://h:notaport",
        "smtp://h?timeout=soon",
    ):
        with pytest.raises(SmtpUrlError):
            parse_smtp_url(bad)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() / 60 for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


async def test_without_smtp_url_messages_stay_in_the_outbox(
    engine: Any, settings: Settings
) -> None:
    ids = await _queue(settings, 3)
    report = await send_due_messages(settings)
    assert report.handled == 0 and report.stopped == "no smtp_url"
    assert {(await _row(i))["state"] for i in ids} == {"pending"}


async def test_one_connection_per_sweep_and_each_message_once(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    ids = await _queue(mail_settings, 12)
    report = await send_due_messages(mail_settings, batch=5)  # several pages, one connection
    assert report.sent == 12
    assert len(set(smtp.peers)) == 1
    assert all(count == 1 for count in smtp.message_ids().values())
    rows = [await _row(i) for i in ids]
    assert {r["state"] for r in rows} == {"sent"} and all(r["sent_at"] for r in rows)
    assert {r["attempts"] for r in rows} == {1}
    assert (await send_due_messages(mail_settings)).handled == 0  # nothing is sent twice


async def test_two_concurrent_sweeps_send_each_message_once(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    await _queue(mail_settings, 40)
    first, second = await asyncio.gather(
        send_due_messages(mail_settings, worker_id="a", batch=10),
        send_due_messages(mail_settings, worker_id="b", batch=10),
    )
    assert first.sent + second.sent == 40
    assert len(smtp.messages) == 40 and len(smtp.message_ids()) == 40


async def test_future_messages_wait_for_their_time(
    engine: Any, mail_settings: Settings, smtp: MailServer, clock: FrozenClock
) -> None:
    [row_id] = await _queue(mail_settings, 1, due_at=clock() + timedelta(hours=1))
    assert (await send_due_messages(mail_settings, now=clock())).handled == 0
    assert (await send_due_messages(mail_settings, now=clock.advance(hours=1))).sent == 1
    assert (await _row(row_id))["state"] == "sent"


async def test_refusals_are_retried_with_backoff_then_delivered(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    with mail_server(refuse_first=3) as server:
        mail = dataclasses.replace(settings, smtp_url=server.url)
        [row_id] = await _queue(mail, 1, due_at=clock())
        waits = []
        for attempt in range(1, 4):
            report = await send_due_messages(mail, now=clock())
            assert report.retried == 1
            row = await _row(row_id)
            assert row["state"] == "pending" and row["attempts"] == attempt
            assert row["last_error"].startswith("451")
            waits.append(row["due_at"] - clock())
            # not due before its back-off is over
            assert (await send_due_messages(mail, now=clock.advance(seconds=30))).handled == 0
            clock.current = row["due_at"]
        assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
        assert (await send_due_messages(mail, now=clock())).sent == 1
        row = await _row(row_id)
        assert (row["state"], row["attempts"], row["last_error"]) == ("sent", 4, "")
        assert len(server.messages) == 1 and server.attempts == 4


async def test_permanent_refusal_fails_at_once(engine: Any, settings: Settings) -> None:
    with mail_server(refuse_code=550) as server:
        mail = dataclasses.replace(settings, smtp_url=server.url)
        [row_id] = await _queue(mail, 1)
        report = await send_due_messages(mail)
        assert report.failed == 1
        row = await _row(row_id)
        assert row["state"] == "failed" and row["last_error"].startswith("550")
        assert (await send_due_messages(mail)).handled == 0
        assert server.messages == []


async def test_refused_too_often_gives_up(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    with mail_server(refuse_first=100) as server:
        mail = dataclasses.replace(settings, smtp_url=server.url)
        [row_id] = await _queue(mail, 1, due_at=clock())
        for _ in range(MAX_ATTEMPTS):
            await send_due_messages(mail, now=clock())
            clock.current = (await _row(row_id))["due_at"]
        row = await _row(row_id)
        assert row["state"] == "failed" and row["attempts"] == MAX_ATTEMPTS
        assert "gave up" in row["last_error"] and server.attempts == MAX_ATTEMPTS


async def test_server_away_messages_wait_then_go_when_it_is_back(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    port = free_port()  # nothing listens there yet
    mail = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?timeout=5")
    ids = await _queue(mail, 5, due_at=clock())
    report = await send_due_messages(mail, now=clock())
    assert report.stopped == "mail server unreachable" and report.retried == 1
    rows = [await _row(i) for i in ids]
    assert {r["state"] for r in rows} == {"pending"}
    assert rows[0]["attempts"] == 1 and "unreachable" in rows[0]["last_error"]
    assert [r["attempts"] for r in rows[1:]] == [0, 0, 0, 0]  # one try per sweep, not a storm
    # the server is away for hours: the message never gives up
    for _ in range(MAX_ATTEMPTS + 2):
        clock.advance(hours=1)
        await send_due_messages(mail, now=clock())
    assert {(await _row(i))["state"] for i in ids} == {"pending"}
    with mail_server(port=port) as server:
        clock.advance(hours=1)
        report = await send_due_messages(mail, now=clock())
        assert report.sent == 5 and len(server.message_ids()) == 5


async def test_an_unusable_row_does_not_block_the_queue(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    program = await make_program()
    bad = await enqueue_message(
        kind="confirmation",
        to_email="not an address",
        program_id=program["id"],
        base_url=mail_settings.base_url,
    )
    good = await _queue(mail_settings, 2)
    report = await send_due_messages(mail_settings)
    assert report.failed == 1 and report.sent == 2
    assert bad is not None
    row = await _row(bad)
    assert row["state"] == "failed" and "address" in row["last_error"]
    assert {(await _row(i))["state"] for i in good} == {"sent"}


async def test_abandoned_claims_are_taken_over_after_the_lease(
    engine: Any, mail_settings: Settings, smtp: MailServer, clock: FrozenClock
) -> None:
    abandoned, busy = await _queue(mail_settings, 2, due_at=clock())
    await (
        OutboxMessage.update(
            {
                OutboxMessage.state: "sending",
                OutboxMessage.claimed_by: "dead",
                OutboxMessage.claimed_at: clock() - timedelta(minutes=6),
            }
        )
        .where(OutboxMessage.id == abandoned)
        .run()
    )
    await (
        OutboxMessage.update(
            {
                OutboxMessage.state: "sending",
                OutboxMessage.claimed_by: "alive",
                OutboxMessage.claimed_at: clock() - timedelta(minutes=1),
            }
        )
        .where(OutboxMessage.id == busy)
        .run()
    )
    report = await send_due_messages(mail_settings, now=clock(), lease=timedelta(minutes=5))
    assert report.sent == 1
    assert (await _row(abandoned))["state"] == "sent"
    assert (await _row(busy))["claimed_by"] == "alive"  # still someone else's


async def test_starttls_with_login(engine: Any, settings: Settings, tmp_path: Path) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"rahasia@1")
        return AuthResult(success=ok)

    options = {
        "tls_context": context,
        "require_starttls": True,
        "authenticator": authenticate,
        "auth_required": True,
    }
    with mail_server(controller_options=options, query=f"?starttls=true&cafile={cert}") as server:
        url = server.url.replace("smtp://", "smtp://mailer:rahasia%401@")
        mail = dataclasses.replace(settings, smtp_url=url)
        await _queue(mail, 2)
        report = await send_due_messages(mail)
        assert report.sent == 2 and len(server.messages) == 2
        assert logins == [(b"mailer", b"rahasia@1")]


async def test_implicit_tls(engine: Any, settings: Settings, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with mail_server(
        controller_options={"ssl_context": context}, scheme="smtps", query=f"?cafile={cert}"
    ) as server:
        mail = dataclasses.replace(settings, smtp_url=server.url)
        await _queue(mail, 1)
        assert (await send_due_messages(mail)).sent == 1
        assert len(server.messages) == 1
    # without the CA the certificate is not trusted: the message waits, nothing leaks
    with mail_server(controller_options={"ssl_context": context}, scheme="smtps") as server:
        mail = dataclasses.replace(settings, smtp_url=server.url)
        [row_id] = await _queue(mail, 1)
        report = await send_due_messages(mail)
        assert (await _row(row_id))["state"] == "pending"
        assert report.stopped == "mail server unreachable" and server.messages == []


async def test_server_lost_mid_sweep_puts_the_untried_back_untouched(
    engine: Any, mail_settings: Settings, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from youth_hub.messaging import services

    ids = await _queue(mail_settings, 10)
    real_ensure = services._Connection.ensure
    calls = 0

    async def ensure(self: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 3:  # the server goes away after three messages
            raise services._ServerUnavailable("mail server unreachable: gone")
        return await real_ensure(self)

    monkeypatch.setattr(services._Connection, "ensure", ensure)
    report = await send_due_messages(mail_settings)
    assert report.sent == 3 and report.stopped == "mail server unreachable"
    rows = [await _row(i) for i in ids]
    assert [r["state"] for r in rows] == ["sent"] * 3 + ["pending"] * 7
    assert rows[3]["attempts"] == 1 and "gone" in rows[3]["last_error"]  # the one tried
    # the rest were claimed but never tried: back as they were, due now, no attempt counted
    assert [(r["attempts"], r["claimed_by"]) for r in rows[4:]] == [(0, None)] * 6
    assert len(smtp.messages) == 3
