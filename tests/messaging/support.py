"""Test helpers for messaging: a real SMTP server on loopback (aiosmtpd) and registrations."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.live import free_port
from youth_hub.registration.tables import Registration

_seq = itertools.count(1)


@dataclass
class MailServer:
    """Collects what it accepts. `refuse_first` answers 451 to that many DATA commands,
    `refuse_code` 5xx refuses everything, `block_at` holds the n-th accepted message (after
    storing it, before answering) until `release` is set: a client killed meanwhile never
    learns that the server took it."""

    refuse_first: int = 0
    refuse_code: int | None = None
    block_at: int | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    attempts: int = 0
    in_flight: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if attempt <= self.refuse_first:
            return "451 4.3.0 Mailbox busy, try again later"
        if self.refuse_code is not None:
            return f"{self.refuse_code} 5.1.1 No such user here"
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            accepted = len(self.messages)
        if self.block_at is not None and accepted == self.block_at:
            self.in_flight.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 2.0.0 Accepted"

    def kinds(self) -> Counter[str]:
        return Counter(str(m["X-Youth-Hub-Kind"]) for m in self.messages)

    def message_ids(self) -> Counter[str]:
        return Counter(str(m["Message-ID"]) for m in self.messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def mail_server(**options: Any) -> Iterator[MailServer]:
    server = MailServer(**options)
    server.port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        server.release.set()
        controller.stop()


async def make_registration(
    program: dict[str, Any],
    *,
    status: str = "confirmed",
    full_name: str | None = None,
    email_address: str | None = None,
    language: str = "id",
    waitlist_seq: int | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    n = next(_seq)
    row = Registration(
        code=secrets.token_urlsafe(16),
        program=program["id"],
        status=status,
        waitlist_seq=waitlist_seq,
        full_name=full_name or f"Peserta {n}",
        first_name=(full_name or f"Peserta {n}").split(" ")[0][:60],
        email=email_address or f"peserta{n}@example.test",
        phone=f"+62812{n:08d}",
        birth_date=date(2005, 5, 17),
        kecamatan="Purbalingga",
        language=language,
        created_at=created_at or datetime.now(UTC),
    )
    await row.save().run()
    return row.to_dict()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())
