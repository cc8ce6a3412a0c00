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
    peers: list[Any] = field(default_factory=list)  # the client's (host, port) of each DATA
    delay: float = 0.0  # seconds each DATA takes: keeps a sweep busy long enough to overlap
    scheme: str = "smtp"
    query: str = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{self.query}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
            self.peers.append(session.peer)
        if attempt <= self.refuse_first:
            return "451 4.3.0 Mailbox busy, try again later"
        if self.refuse_code is not None:
            return f"{self.refuse_code} 5.1.1 No such user here"
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            accepted = len(self.messages)
        if self.block_at is not None and accepted == self.block_at:
            self.in_flight.set()
            # A threading.Event: the test thread releases it, not this server's loop.
            await asyncio.to_thread(self.release.wait)
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
def mail_server(
    *, port: int | None = None, controller_options: dict[str, Any] | None = None, **options: Any
) -> Iterator[MailServer]:
    server = MailServer(**options)
    server.port = port or free_port()
    controller = Controller(
        server, hostname="127.0.0.1", port=server.port, **(controller_options or {})
    )
    controller.start()
    try:
        yield server
    finally:
        server.release.set()
        controller.stop()


async def add_registration(
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


def self_signed_certificate(folder: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 (its own CA): the client trusts it through ?cafile=."""
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
