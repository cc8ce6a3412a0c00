"""The outbox: every message is a row before it is sent."""

from piccolo.columns import (
    JSON,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from youth_hub.catalog.tables import Program


class OutboxMessage(Table, tablename="messaging_outbox"):
    id: Serial
    # confirmation, waitlisted, promoted, cancelled, reminder, changed, program_cancelled,
    # my_tickets, certificate, feedback, digest (INTERFACE.md, Messages).
    kind = Varchar(length=20, index=True)
    to_email = Varchar(length=254)
    to_name = Varchar(length=200, default="")
    language = Varchar(length=5, default="id")
    ticket_code = Varchar(length=64, null=True, default=None, index=True)
    program = ForeignKey(references=Program, null=True, on_delete=OnDelete.cascade)
    # What the templates need beyond the ticket and program (links, old times...).
    context = JSON(default={})
    # Planning a message twice (e.g. a reminder) hits this unique key instead of doubling it.
    dedupe_key = Varchar(length=200, null=True, default=None, unique=True)
    message_id = Varchar(length=200, unique=True)  # fixed at enqueue: a retry keeps the same id
    due_at = Timestamptz(default=TimestamptzNow(), index=True)
    # pending, sending, sent, failed, dropped
    state = Varchar(length=10, default="pending", index=True)
    claimed_at = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=80, null=True, default=None)
    attempts = Integer(default=0)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
