"""Server-side sessions that get a fresh id at sign-in, and cost nothing for anonymous visitors.

Litestar's server-side backend always keeps the id from the incoming cookie, so a session id
planted before sign-in (session fixation) would become the signed-in session. Here a handler
asks for a new id with `start_session`; the backend then issues it and deletes the old one.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items

from youth_hub.accounts.identity import SESSION_USER_KEY

# Scope key under which a handler leaves the new session id for the backend to issue.
_ROTATED_ID = "youth_hub.rotated_session_id"


def _scope(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], connection.scope)


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = _scope(connection).get(_ROTATED_ID)
        return rotated if isinstance(rotated, str) else super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        store = self.config.get_store_from_app(connection.scope["app"])
        old_id = connection.cookies.get(self.config.key)
        if old_id == "null":
            old_id = None
        rotated = _scope(connection).get(_ROTATED_ID)
        if rotated and old_id and old_id != rotated:
            await self.delete(old_id, store=store)  # the planted or pre-sign-in id dies here
        if scope_session is Empty or not scope_session:
            if old_id and not rotated:
                await self.delete(old_id, store=store)
                self._expire_cookie(message)
            # An empty session without a cookie writes nothing and sets no cookie, so public
            # pages stay cheap and cacheable.
            return
        await super().store_in_message(scope_session, message, connection)

    def _expire_cookie(self, message: Message) -> None:
        params = dict(
            extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        )
        cookie = Cookie(value="null", key=self.config.key, expires=0, **params)
        MutableScopeHeaders.from_message(message).add("Set-Cookie", cookie.to_header(header=""))


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def renew_session(connection: ASGIConnection[Any, Any, Any, Any], data: dict[str, Any]) -> None:
    """The session gains a right (a sign-in, an email proven by its link): a brand-new id
    holding `data`, and the old session deleted, so an id planted before is worth nothing."""
    _scope(connection)[_ROTATED_ID] = secrets.token_hex(32)
    connection.set_session(data)


def start_session(connection: ASGIConnection[Any, Any, Any, Any], user_id: int) -> None:
    """Sign in: a brand-new session id holding only the user id."""
    renew_session(connection, {SESSION_USER_KEY: user_id})


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Sign out: the session is deleted from the store and its cookie expired."""
    connection.clear_session()
