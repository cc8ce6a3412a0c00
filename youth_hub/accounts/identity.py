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

from youth_hub.accounts.passwords import hash_token
from youth_hub.accounts.roles import OFFICE_ROLES, Role
from youth_hub.accounts.tables import ApiToken, StaffUser

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


async def user_by_id(user_id: int) -> CurrentUser | None:
    row = (
        await StaffUser.select(
            StaffUser.id, StaffUser.email, StaffUser.name, StaffUser.role, StaffUser.language
        )
        .where((StaffUser.id == user_id) & (StaffUser.active.eq(True)))
        .first()
        .run()
    )
    return _from_row(row) if row else None


# last_used_at is for people ("used today?"): refreshing it at most this often keeps the API's
# hot path (check-ins) free of a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


async def user_by_token(token: str) -> CurrentUser | None:
    """The active owner of a live token, in one query; revoked tokens and deactivated owners
    answer None."""
    owner = ApiToken.user
    row = (
        await ApiToken.select(
            ApiToken.id,
            ApiToken.last_used_at,
            owner.id.as_alias("owner_id"),
            owner.email.as_alias("email"),
            owner.name.as_alias("name"),
            owner.role.as_alias("role"),
            owner.language.as_alias("language"),
        )
        .where(
            (ApiToken.token_hash == hash_token(token))
            & ApiToken.revoked_at.is_null()
            & (owner.active == True)  # noqa: E712 (a column comparison, not a truth test)
        )
        .first()
        .run()
    )
    if not row:
        return None
    now = datetime.now(UTC)
    last_used = row["last_used_at"]
    if last_used is not None and last_used.tzinfo is None:
        last_used = last_used.replace(tzinfo=UTC)
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"]).run()
    return _from_row({**row, "id": row["owner_id"]})


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

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
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
