"""Staff users, API tokens and the audit log."""

from piccolo.columns import (
    JSON,
    Boolean,
    ForeignKey,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class StaffUser(Table, tablename="accounts_staff_user"):
    id: Serial
    email = Varchar(length=254, unique=True, index=True)
    name = Varchar(length=120, default="")
    # "admin", "dinporapar", "organiser" or "scanner": see accounts.roles.
    role = Varchar(length=20)
    password_hash = Varchar(length=255)
    active = Boolean(default=True)
    language = Varchar(length=5, default="id")
    created_at = Timestamptz(default=TimestamptzNow())


class ApiToken(Table, tablename="accounts_api_token"):
    id: Serial
    user = ForeignKey(references=StaffUser, null=False)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash = Varchar(length=64, unique=True, index=True)
    label = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class AuditLog(Table, tablename="accounts_audit_log"):
    """Append-only: who read or exported personal data, who changed roles."""

    id: Serial
    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = ForeignKey(references=StaffUser, null=True)
    actor_label = Varchar(length=254, default="")
    action = Varchar(length=60, index=True)
    target = Varchar(length=200, default="")
    detail = JSON(default={})
    ip = Varchar(length=64, default="")
