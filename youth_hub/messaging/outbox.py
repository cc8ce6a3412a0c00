"""Putting a message in the outbox: the only way any domain sends anything.

Call it inside the same write transaction as the change it reports, so a registration and
its confirmation are stored together or not at all.

What each kind reads from `context` (everything else comes from the ticket and the program
at sending time, so a message always shows the program as it is when it goes out):

- `waitlisted`: `waitlist_position` (optional; computed from the registration otherwise);
- `changed`: `old_starts_at` (optional ISO 8601), `old_venue` (optional);
- `my_tickets`: `link` (or `url`: the link to all one's tickets), `valid_minutes` (optional),
  `tickets`: [{"title", "url"}] (optional);
- `certificate`, `feedback`: `url` (optional; the ticket's certificate or page otherwise);
- `digest`: filled by messaging's own planning.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from youth_hub.messaging.tables import OutboxMessage
from youth_hub.sql import Statement

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
    state: str = "pending",
    note: str = "",
) -> int | None:
    """Record a message to send at `due_at` (now by default). With a `dedupe_key` already in
    the outbox nothing is added and None is returned; otherwise the new row's id.

    `state="dropped"` with a `note` records a message planned but deliberately not sent
    (a reminder whose time had passed), so planning it again finds it and adds nothing."""
    _check(kind, state)
    query = OutboxMessage.insert(
        OutboxMessage(
            kind=kind,
            to_email=to_email,
            to_name=to_name[:200],
            language=language if language in {"id", "en"} else "id",
            ticket_code=ticket_code,
            program=program_id,
            context=context or {},
            dedupe_key=dedupe_key,
            message_id=new_message_id(base_url),
            due_at=due_at or datetime.now(UTC),
            state=state,
            last_error=note,
        )
    ).returning(OutboxMessage.id)
    if dedupe_key is not None:
        # One statement, race-free: two processes planning the same reminder at once (or a
        # registration transaction racing a planning sweep) add one row, and neither fails.
        query = query.on_conflict(target=OutboxMessage.dedupe_key, action="DO NOTHING")
    rows = await query.run()
    return int(rows[0]["id"]) if rows else None


def _check(kind: str, state: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    if state not in {"pending", "dropped"}:
        raise ValueError(f"a new message is pending or dropped, not {state!r}")


def insert_message_sql(*, kind: str = "{}", source: str = "") -> str:
    """SQL text (youth_hub.sql's `{}` placeholders) adding one pending message due now, for
    hand-written hot paths: its placeholders take message_values() in order. `kind` may be an
    SQL expression instead of the kind's placeholder (message_values() then without the
    kind), and `source` a FROM clause: one message per row of it (in a data-modifying WITH)."""
    return (
        "INSERT INTO messaging_outbox (kind, to_email, to_name, language, ticket_code, program, "
        "context, message_id, due_at, created_at, dedupe_key, state, claimed_at, claimed_by, "
        "attempts, last_error, sent_at) "
        f"SELECT {kind}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, {{}}, "
        "NULL, 'pending', NULL, NULL, 0, '', NULL" + (f" FROM {source}" if source else "")
    )


def message_values(
    *,
    kind: str,
    to_email: str,
    base_url: str,
    to_name: str = "",
    language: str = "id",
    ticket_code: str | None = None,
    program_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> list[Any]:
    """The values of the row enqueue_message would add (a pending message, due now, no dedupe
    key), in insert_message_sql()'s order, the kind first."""
    _check(kind, "pending")
    now = datetime.now(UTC)
    return [
        kind,
        to_email,
        to_name[:200],
        language if language in {"id", "en"} else "id",
        ticket_code,
        program_id,
        json.dumps(context or {}),
        new_message_id(base_url),
        now,
        now,
    ]


_INSERT = Statement(insert_message_sql() + " RETURNING id")


def enqueue_statement(**message: Any) -> tuple[Statement, Sequence[Any]]:
    """enqueue_message's row (a pending message due now; message_values()'s arguments) as one
    statement for a youth_hub.sql unit: a hot path that writes its change by hand yields it in
    the same transaction."""
    return _INSERT, message_values(**message)
