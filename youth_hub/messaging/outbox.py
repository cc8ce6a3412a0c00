"""Putting a message in the outbox: the only way any domain sends anything.

Call it inside the same write transaction as the change it reports, so a registration and
its confirmation are stored together or not at all.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from youth_hub.messaging.tables import OutboxMessage

KINDS = frozenset(
    {
        "confirmation",
        "waitlisted",
        "promoted",
        "cancelled",
        "reminder",
        "changed",
        "program_cancelled",
        "my_tickets",
        "certificate",
        "feedback",
        "digest",
    }
)


def new_message_id(base_url: str) -> str:
    host = urlsplit(base_url).hostname or "localhost"
    return f"<{secrets.token_hex(16)}@{host}>"


async def enqueue_message(
    *,
    kind: str,
    to_email: str,
    base_url: str,
    to_name: str = "",
    language: str = "id",
    ticket_code: str | None = None,
    program_id: int | None = None,
    context: dict[str, Any] | None = None,
    due_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Record a message to send at `due_at` (now by default). With a `dedupe_key` already in
    the outbox nothing is added and None is returned; otherwise the new row's id."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if dedupe_key is not None and await OutboxMessage.exists().where(
        OutboxMessage.dedupe_key == dedupe_key
    ).run():
        return None
    rows = await OutboxMessage.insert(
        OutboxMessage(
            kind=kind,
            to_email=to_email,
            to_name=to_name,
            language=language,
            ticket_code=ticket_code,
            program=program_id,
            context=context or {},
            dedupe_key=dedupe_key,
            message_id=new_message_id(base_url),
            due_at=due_at or datetime.now(UTC),
            state="pending",
        )
    ).run()
    return int(rows[0]["id"])
