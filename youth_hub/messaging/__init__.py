"""Messaging: the outbox, email rendering and sending, reminder planning, scheduler jobs.

Other domains use only what is exported here: `enqueue_message` (in their write
transaction; `enqueue_statement`, `insert_message_sql` and `message_values` give the same
row to hand-written statements of youth_hub.sql) and `drop_reminders` (when a seat is
cancelled).
"""

from youth_hub.messaging.config import configure
from youth_hub.messaging.listeners import connect_signals
from youth_hub.messaging.outbox import (
    KINDS,
    enqueue_message,
    enqueue_statement,
    insert_message_sql,
    message_values,
)


async def drop_reminders(ticket_code: str) -> None:
    """The seat's pending reminders will not go out (call it in the cancel transaction)."""
    from youth_hub.messaging.planning import drop_reminders as _drop

    await _drop(ticket_code)


__all__ = [
    "KINDS",
    "configure",
    "connect_signals",
    "drop_reminders",
    "enqueue_message",
    "enqueue_statement",
    "insert_message_sql",
    "message_values",
]
