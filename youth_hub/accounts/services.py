"""Account rules: sign-in, staff accounts, roles, API tokens, the audit log. No HTTP."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

from litestar.status_codes import HTTP_403_FORBIDDEN, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from youth_hub.accounts.audit import record_audit
from youth_hub.accounts.identity import CurrentUser, user_by_id
from youth_hub.accounts.passwords import (
    generate_password,
    hash_password,
    needs_rehash,
    new_api_token,
    verify_password,
)
from youth_hub.accounts.roles import Role
from youth_hub.accounts.tables import ApiToken, AuditLog, StaffUser
from youth_hub.db import current_engine, is_sqlite, write_transaction
from youth_hub.i18n import gettext
from youth_hub.web.errors import DomainError, FieldError, ValidationFailed

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 10


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_staff_user(
    *, email: str, role: str, name: str = "", password: str | None = None
) -> tuple[dict[str, Any], str]:
    """Create a staff user; returns (row, password), generating the password when none given."""
    email = normalise_email(email)
    errors = []
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors.append(FieldError("email", gettext("Enter a valid email address.")))
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", gettext("Choose one of the roles.")))
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors.append(FieldError("password", gettext("The password needs at least 10 characters.")))
    if len(name) > 120:
        errors.append(FieldError("name", gettext("At most 120 characters.")))
    if errors:
        raise ValidationFailed(errors, message=errors[0].message)
    if await StaffUser.exists().where(StaffUser.email == email).run():
        raise _email_taken()
    password = password or generate_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    row = StaffUser(email=email, role=role, name=name.strip(), password_hash=password_hash)
    try:
        await row.save().run()
    except Exception as exc:
        # Two creations of one email at once: the unique index decides, the loser is told.
        if _is_unique_violation(exc):
            raise _email_taken() from exc
        raise
    return row.to_dict(), password


def _email_taken() -> DomainError:
    return DomainError(
        code="email_taken",
        message=gettext("A staff account with this email already exists."),
        status_code=HTTP_409_CONFLICT,
    )


def _is_unique_violation(exc: Exception) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"


async def create_api_token(*, email: str, label: str = "") -> str:
    """A new API token for an active staff user; only its hash is stored."""
    user = (
        await StaffUser.select(StaffUser.id)
        .where((StaffUser.email == normalise_email(email)) & StaffUser.active.eq(True))
        .first()
        .run()
    )
    if not user:
        raise DomainError(
            code="no_such_user",
            message=gettext("No active staff account has this email."),
            status_code=HTTP_404_NOT_FOUND,
        )
    token, digest = new_api_token()
    await ApiToken(user=user["id"], token_hash=digest, label=label[:100]).save().run()
    return token


# --- Sign-in -----------------------------------------------------------------------------------

MAX_PASSWORD_LENGTH = 1024  # argon2 accepts more, but nobody types this much


def validate_sign_in(email: str, password: str) -> str:
    """The normalised email, or ValidationFailed naming the field (no account is looked up)."""
    email = normalise_email(email)
    errors = []
    if not email:
        errors.append(FieldError("email", gettext("Enter your email address.")))
    elif len(email) > 254 or not EMAIL_RE.match(email):
        errors.append(FieldError("email", gettext("Enter a valid email address.")))
    if not password:
        errors.append(FieldError("password", gettext("Enter your password.")))
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.append(FieldError("password", gettext("The password is too long.")))
    if errors:
        raise ValidationFailed(errors, message=errors[0].message)
    return email


async def authenticate(email: str, password: str) -> CurrentUser | None:
    """The active staff member with this email and password, or None.

    An unknown or deactivated account is verified against a dummy hash, so every failure
    costs the same argon2 work. A hash made with older argon2 parameters is upgraded.
    """
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.password_hash, StaffUser.active)
        .where(StaffUser.email == normalise_email(email))
        .first()
        .run()
    )
    stored = row["password_hash"] if row and row["active"] else None
    # argon2 releases the GIL: verifying in a thread keeps the other requests moving.
    if not await asyncio.to_thread(verify_password, stored, password):
        return None
    assert row is not None and stored is not None
    if needs_rehash(stored):
        fresh = await asyncio.to_thread(hash_password, password)
        await (
            StaffUser.update({StaffUser.password_hash: fresh})
            .where((StaffUser.id == row["id"]) & (StaffUser.password_hash == stored))
            .run()
        )
    return await user_by_id(row["id"])


# --- Administration of staff accounts (admin only; the controllers guard) ----------------------

AUDIT_PER_PAGE = 50


def _not_found() -> DomainError:
    return DomainError(
        code="no_such_staff",
        message=gettext("This staff account does not exist."),
        status_code=HTTP_404_NOT_FOUND,
    )


async def list_staff() -> list[dict[str, Any]]:
    return list(
        await StaffUser.select(
            StaffUser.id,
            StaffUser.email,
            StaffUser.name,
            StaffUser.role,
            StaffUser.active,
            StaffUser.created_at,
        )
        .order_by(StaffUser.email)
        .run()
    )


MAX_ID = 2**31 - 1  # a larger number in a URL must answer 404, not overflow PostgreSQL's int


async def get_staff(user_id: int) -> dict[str, Any]:
    if not 0 < user_id <= MAX_ID:
        raise _not_found()
    row = (
        await StaffUser.select(
            StaffUser.id,
            StaffUser.email,
            StaffUser.name,
            StaffUser.role,
            StaffUser.active,
            StaffUser.created_at,
        )
        .where(StaffUser.id == user_id)
        .first()
        .run()
    )
    if not row:
        raise _not_found()
    return dict(row)


async def _serialise_staff_changes() -> None:
    """Inside a write transaction: one change of roles or activity at a time.

    SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs a lock, or two admins
    demoting each other at the same instant could leave no admin at all.
    """
    engine = current_engine()
    if not is_sqlite(engine):
        await engine.run_ddl(f"SELECT pg_advisory_xact_lock({_STAFF_LOCK_ID})")


_STAFF_LOCK_ID = 0x59485354  # "YHST", any constant shared by every process


async def _require_active_admin(actor: CurrentUser) -> None:
    # The actor may have been demoted or deactivated since their request began.
    still = (
        await StaffUser.exists()
        .where(
            (StaffUser.id == actor.id)
            & (StaffUser.role == Role.ADMIN.value)
            & StaffUser.active.eq(True)
        )
        .run()
    )
    if not still:
        raise DomainError(
            code="not_admin",
            message=gettext("Your account may not do this."),
            status_code=HTTP_403_FORBIDDEN,
        )


async def add_staff_user(
    actor: CurrentUser, *, email: str, role: str, name: str = "", ip: str = ""
) -> tuple[dict[str, Any], str]:
    """An admin creates an account; the generated password is returned to be shown once."""
    await _require_active_admin(actor)
    # Not one transaction: argon2 hashing must not hold SQLite's write lock.
    row, password = await create_staff_user(email=email, role=role, name=name)
    await record_audit(actor, "staff.create", row["email"], {"role": role}, ip=ip)
    return row, password


async def change_role(actor: CurrentUser, user_id: int, role: str, ip: str = "") -> bool:
    """True when the role changed. An admin cannot demote themselves, so one admin remains."""
    if role not in {r.value for r in Role}:
        raise ValidationFailed(
            [FieldError("role", gettext("Choose one of the roles."))],
            message=gettext("Choose one of the roles."),
        )
    if user_id == actor.id and role != Role.ADMIN.value:
        raise DomainError(
            code="cannot_demote_self",
            message=gettext("You cannot change your own role; ask another admin."),
            status_code=HTTP_409_CONFLICT,
        )
    async with write_transaction():
        await _serialise_staff_changes()
        await _require_active_admin(actor)
        row = await get_staff(user_id)
        if row["role"] == role:
            return False
        await StaffUser.update({StaffUser.role: role}).where(StaffUser.id == user_id).run()
        await record_audit(
            actor, "staff.role_change", row["email"], {"from": row["role"], "to": role}, ip=ip
        )
    return True


async def set_staff_active(actor: CurrentUser, user_id: int, active: bool, ip: str = "") -> bool:
    """Deactivate (sessions and tokens stop at the next request) or reactivate an account."""
    if user_id == actor.id and not active:
        raise DomainError(
            code="cannot_deactivate_self",
            message=gettext("You cannot deactivate your own account; ask another admin."),
            status_code=HTTP_409_CONFLICT,
        )
    async with write_transaction():
        await _serialise_staff_changes()
        await _require_active_admin(actor)
        row = await get_staff(user_id)
        if row["active"] == active:
            return False
        await StaffUser.update({StaffUser.active: active}).where(StaffUser.id == user_id).run()
        action = "staff.reactivate" if active else "staff.deactivate"
        await record_audit(actor, action, row["email"], {}, ip=ip)
    return True


async def list_api_tokens(user_id: int) -> list[dict[str, Any]]:
    return list(
        await ApiToken.select(
            ApiToken.id,
            ApiToken.label,
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
        )
        .where(ApiToken.user == user_id)
        .order_by(ApiToken.id, ascending=False)
        .run()
    )


async def issue_api_token(actor: CurrentUser, user_id: int, label: str = "", ip: str = "") -> str:
    """A new token for an active account, returned once; only its hash is kept."""
    label = label.strip()
    if len(label) > 100:
        raise ValidationFailed(
            [FieldError("label", gettext("At most 100 characters."))],
            message=gettext("At most 100 characters."),
        )
    async with write_transaction():
        await _require_active_admin(actor)
        row = await get_staff(user_id)
        if not row["active"]:
            raise DomainError(
                code="inactive",
                message=gettext("This account is deactivated; reactivate it first."),
                status_code=HTTP_409_CONFLICT,
            )
        token, digest = new_api_token()
        saved = (
            await ApiToken.insert(ApiToken(user=user_id, token_hash=digest, label=label))
            .returning(ApiToken.id)
            .run()
        )
        await record_audit(
            actor,
            "token.issue",
            row["email"],
            {"token_id": saved[0]["id"], "label": label},
            ip=ip,
        )
    return token


async def revoke_api_token(actor: CurrentUser, user_id: int, token_id: int, ip: str = "") -> bool:
    """True when the token was live and is now revoked; it stops working at once."""
    async with write_transaction():
        await _require_active_admin(actor)
        row = await get_staff(user_id)
        exists = (
            0 < token_id <= MAX_ID
            and await ApiToken.exists()
            .where((ApiToken.id == token_id) & (ApiToken.user == user_id))
            .run()
        )
        if not exists:
            raise DomainError(
                code="no_such_token",
                message=gettext("This token does not exist."),
                status_code=HTTP_404_NOT_FOUND,
            )
        revoked = (
            await ApiToken.update({ApiToken.revoked_at: datetime.now(UTC)})
            .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null())
            .returning(ApiToken.id)
            .run()
        )
        if revoked:
            await record_audit(actor, "token.revoke", row["email"], {"token_id": token_id}, ip=ip)
    return bool(revoked)


# --- The audit log -----------------------------------------------------------------------------


async def audit_actions() -> list[str]:
    rows = await AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action).run()
    return [r["action"] for r in rows]


async def list_audit(
    action: str | None = None, page: int = 1, per_page: int = AUDIT_PER_PAGE
) -> tuple[list[dict[str, Any]], int]:
    """One page of the log, newest first, and the number of entries matching the filter."""
    query = AuditLog.select(
        AuditLog.id,
        AuditLog.at,
        AuditLog.actor_label,
        AuditLog.action,
        AuditLog.target,
        AuditLog.detail,
        AuditLog.ip,
    )
    count = AuditLog.count()
    if action:
        query = query.where(AuditLog.action == action)
        count = count.where(AuditLog.action == action)
    rows = await (
        query.order_by(AuditLog.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .output(load_json=True)
        .run()
    )
    return list(rows), await count.run()
