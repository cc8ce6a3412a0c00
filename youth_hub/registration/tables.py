"""Registrations: a person's place in a program, confirmed or on the waiting list."""

from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from youth_hub.catalog.tables import Program


class Registration(Table, tablename="registration_registration"):
    id: Serial
    # The ticket code in links: 128+ bits of randomness (secrets.token_urlsafe(16) or more).
    code = Varchar(length=64, unique=True, index=True)
    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    status = Varchar(length=12, index=True)  # confirmed, waitlisted, cancelled
    # Monotonic per program while waitlisted: the position is the rank among live waitlisted.
    waitlist_seq = Integer(null=True, default=None)
    full_name = Varchar(length=120)
    first_name = Varchar(length=60, default="")  # what a scanner may see
    email = Varchar(length=254, index=True)  # normalised: trimmed, lower-cased
    phone = Varchar(length=20, index=True)  # normalised: +62...
    birth_date = Date()
    gender = Varchar(length=6, null=True, default=None)  # female, male, or not given
    kecamatan = Varchar(length=60, default="")
    village = Varchar(length=80, default="")
    school = Varchar(length=120, default="")
    guardian_name = Varchar(length=120, default="")
    guardian_phone = Varchar(length=20, default="")
    guardian_consent_at = Timestamptz(null=True, default=None)
    language = Varchar(length=5, default="id")
    created_at = Timestamptz(default=TimestamptzNow())
    promoted_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)


class IdempotentRequest(Table, tablename="registration_idempotency"):
    """An `Idempotency-Key` (or a form's one-time token) and the answer it got first."""

    id: Serial
    # SHA-256 of the program id and the client's key: keys are scoped to one program.
    key = Varchar(length=200, unique=True)
    # SHA-256 of the normalised email and phone: a key replayed with other data is refused,
    # so a guessed key never reveals someone else's ticket.
    fingerprint = Varchar(length=64, default="")
    status_code = Integer(default=201)
    response = JSON(default={})
    created_at = Timestamptz(default=TimestamptzNow())


class WaitlistCounter(Table, tablename="registration_waitlist_counter"):
    """Per program: the last waiting-list number handed out (an upsert takes the next)."""

    id: Serial
    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, unique=True)
    last_seq = Integer(default=0)


class MyTicketsLink(Table, tablename="registration_my_link"):
    """A single-use link to all of one email's tickets (GET /my/{token}), valid 30 minutes."""

    id: Serial
    token_hash = Varchar(length=64, unique=True)  # SHA-256 of the token; the token is only mailed
    email = Varchar(length=254, index=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
