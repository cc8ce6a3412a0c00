"""Who is asking: the signed-in staff member (session) or an API client (Bearer token).

Sessions authenticate pages only; the JSON API takes Bearer tokens only, so the API can be
free of CSRF tokens without a cookie ever authorising a cross-site request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from youth_hub import sql
from youth_hub.accounts.passwords import hash_token
from youth_hub.accounts.roles import OFFICE_ROLES, Role
from youth_hub.sql import Statement

SESSION_USER_KEY = "uid"


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str
    name: str
    role: Role
    language: str = "id"

    @property
    def is_office(self) -> bool:
        """Dinporapar or admin: sees every program."""
        return self.role in OFFICE_ROLES

    def at_least(self, role: Role) -> bool:
        return self.role.at_least(role)

    @property
    def display_name(self) -> str:
        return self.name or self.email


def _from_row(row: dict[str, Any]) -> CurrentUser:
    return CurrentUser(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        language=row["language"],
    )


# Every request of a signed-in person or an API client asks who it is: hand-written statements
# (youth_hub.sql), since Piccolo's query building cost more than the lookup itself.
_USER_BY_ID = Statement(
    "SELECT id, email, name, role, language FROM accounts_staff_user WHERE id = {} AND active = {}"
)
_USER_BY_TOKEN = Statement(
    "SELECT t.id AS token_id, t.last_used_at, u.id, u.email, u.name, u.role, u.language "
    'FROM accounts_api_token t JOIN accounts_staff_user u ON u.id = t."user" '
    "WHERE t.token_hash = {} AND t.revoked_at IS NULL AND u.active = {}"
)
_TOKEN_USED = Statement("UPDATE accounts_api_token SET last_used_at = {} WHERE id = {}")


async def user_by_id(user_id: int) -> CurrentUser | None:
    if not 0 < user_id < 2**31:
        return None
    rows = await sql.fetch(_USER_BY_ID, user_id, True)
    return _from_row(rows[0]) if rows else None


# last_used_at is for people ("used today?"): refreshing it at most this often keeps the API's
# hot path (check-ins) free of a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


async def user_by_token(token: str) -> CurrentUser | None:
    """The active owner of a live token, in one query; revoked tokens and deactivated owners
    answer None."""
    rows = await sql.fetch(_USER_BY_TOKEN, hash_token(token), True)
    if not rows:
        return None
    row = rows[0]
    now = datetime.now(UTC)
    last_used = row["last_used_at"]
    if last_used is not None and last_used.tzinfo is None:
        last_used = last_used.replace(tzinfo=UTC)
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        await sql.execute(_TOKEN_USED, now, row["token_id"])
    return _from_row(row)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def identity_middleware(app: ASGIApp) -> ASGIApp:
    """Puts the CurrentUser (or None) into scope["user"]; runs after the session middleware."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/static/"):
            scope["user"] = None  # assets never need to know who asks: no database lookup
        elif scope["type"] == "http":
            user: CurrentUser | None = None
            token = _bearer(scope)
            if token is not None:
                user = await user_by_token(token)
            elif not scope["path"].startswith("/api/"):
                session = scope.get("session") or {}
                uid = session.get(SESSION_USER_KEY) if isinstance(session, dict) else None
                if isinstance(uid, int):
                    user = await user_by_id(uid)
            scope["user"] = user
        await app(scope, receive, send)

    return middleware


def requires(role: Role) -> Any:
    """Guard: signed in with at least `role` (401 when anonymous, 403 when the role is lower)."""

    # async on purpose: Litestar runs a sync guard in a worker thread, a hop per request.
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None:
            raise NotAuthorizedException()
        if not user.at_least(role):
            raise PermissionDeniedException()

    guard.__name__ = f"requires_{role.value}"
    return guard


def optional_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    user = connection.scope.get("user")
    return user if isinstance(user, CurrentUser) else None
