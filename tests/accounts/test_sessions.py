"""Sessions: a new id at sign-in, cookie flags, sign-out with CSRF, restarts, Redis."""

from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.accounts.helpers import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    set_cookie_header,
    set_cookie_value,
    sign_in,
)
from tests.factories import make_staff
from tests.support.client import in_loop_client
from youth_hub import db
from youth_hub.app import create_app
from youth_hub.settings import Settings

REDIS_URL = os.environ.get("YOUTH_HUB_TEST_REDIS_URL")
NO_REDIS = (
    "Redis session test skipped: set YOUTH_HUB_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) "
    "to run it."
)


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    """An admin page: 200 when the session is an admin's, a redirect to /login when anonymous."""
    response = await client.get("/manage/staff", follow_redirects=False)
    assert response.status_code in (200, 302, 303), response.status_code
    return response.status_code == 200


def fresh_cookie_client(client: httpx.AsyncClient, session_id: str) -> httpx.AsyncClient:
    """Another browser that only knows `session_id` (same app, same transport)."""
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    other.cookies.set(SESSION_COOKIE, session_id, domain="testserver.local")
    return other


async def test_session_id_changes_at_sign_in(client: httpx.AsyncClient) -> None:
    first = await make_staff(role="admin")
    second = await make_staff(role="admin")
    before = set_cookie_value(await sign_in(client, first["email"]))
    assert before and before != "null"
    assert await is_signed_in(client)

    # signing in again from the same browser, with the first session's cookie still sent
    response = await sign_in(client, second["email"])
    after = set_cookie_value(response)
    assert after and after not in (before, "null")

    async with fresh_cookie_client(client, before) as replay:
        assert not await is_signed_in(replay)  # the old id is dead
    async with fresh_cookie_client(client, after) as current:
        assert await is_signed_in(current)


async def test_planted_session_id_is_not_adopted(client: httpx.AsyncClient, app: Litestar) -> None:
    admin = await make_staff(role="admin")
    planted = "a" * 64
    store = app.stores.get("sessions")
    await store.set(planted, b'{"visited": true}', expires_in=600)  # a session the attacker holds
    client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")

    response = await sign_in(client, admin["email"])
    issued = set_cookie_value(response)
    assert issued and issued not in (planted, "null")
    assert await store.get(planted) is None
    async with fresh_cookie_client(client, planted) as attacker:
        assert not await is_signed_in(attacker)


async def test_session_cookie_flags(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    header = set_cookie_header(await sign_in(client, admin["email"])).lower()
    assert "httponly" in header
    assert "samesite=lax" in header
    assert "path=/" in header
    assert "max-age=43200" in header
    assert "secure" not in header  # plain http base URL: a Secure cookie would never come back


async def test_cookies_are_secure_when_the_base_url_is_https(
    settings: Settings, engine: Any
) -> None:
    https = dataclasses.replace(settings, base_url="https://youthhub.example")
    app = create_app(https, run_scheduler=False)
    admin = await make_staff(role="admin")
    try:
        async with in_loop_client(app, base_url="https://testserver.local") as client:
            page = await client.get("/login")
            assert "secure" in set_cookie_header(page, CSRF_COOKIE).lower()
            response = await sign_in(client, admin["email"])
            header = set_cookie_header(response).lower()
            assert "secure" in header and "httponly" in header and "samesite=lax" in header
            assert await is_signed_in(client)
    finally:
        db.use_engine(engine)


async def test_anonymous_visits_write_no_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for path in ("/login", "/login?lang=en", "/manage/staff"):
        response = await client.get(path, follow_redirects=False)
        assert set_cookie_value(response) is None, path
    sessions = settings.data_dir / "stores" / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


async def test_unknown_session_cookie_is_expired(client: httpx.AsyncClient) -> None:
    client.cookies.set(SESSION_COOKIE, "b" * 64, domain="testserver.local")
    response = await client.get("/login", follow_redirects=False)
    assert response.status_code == 200
    assert set_cookie_value(response) == "null"


async def test_logout_requires_post(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    await sign_in(client, admin["email"])
    response = await client.get("/logout", follow_redirects=False)
    assert response.status_code == 405
    assert await is_signed_in(client)


async def test_logout_without_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    await sign_in(client, admin["email"])
    response = await client.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert "Formulir kedaluwarsa" in response.text
    assert await is_signed_in(client)


async def test_logout_with_another_sessions_token_is_refused(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_staff(role="admin")
    await sign_in(client, admin["email"])
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url)
    ) as stranger:
        foreign = await csrf_token(stranger)
    assert foreign != client.cookies.get(CSRF_COOKIE)
    for attempt in (
        {"data": {"_csrf_token": foreign}},
        {"headers": {"x-csrftoken": foreign}},
    ):
        response = await client.post("/logout", follow_redirects=False, **attempt)
        assert response.status_code == 403
    assert await is_signed_in(client)


async def test_logout_ends_the_session_for_good(client: httpx.AsyncClient, app: Litestar) -> None:
    admin = await make_staff(role="admin")
    session_id = set_cookie_value(await sign_in(client, admin["email"]))
    assert session_id
    token = await csrf_token(client, "/manage/staff")
    response = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert set_cookie_value(response) == "null"
    assert await app.stores.get("sessions").get(session_id) is None
    assert not await is_signed_in(client)
    async with fresh_cookie_client(client, session_id) as replay:
        assert not await is_signed_in(replay)


async def test_sessions_survive_an_app_restart(settings: Settings, engine: Any) -> None:
    admin = await make_staff(role="admin")
    try:
        first = create_app(settings, run_scheduler=False)
        async with in_loop_client(first) as client:
            session_id = set_cookie_value(await sign_in(client, admin["email"]))
            assert session_id and await is_signed_in(client)
        second = create_app(settings, run_scheduler=False)  # same data dir: same file store
        async with in_loop_client(second) as client:
            client.cookies.set(SESSION_COOKIE, session_id, domain="testserver.local")
            assert await is_signed_in(client)
    finally:
        db.use_engine(engine)


async def test_redis_store_holds_sessions_and_throttling(settings: Settings, engine: Any) -> None:
    if not REDIS_URL:
        pytest.skip(NO_REDIS)
    redis_settings = dataclasses.replace(settings, redis_url=REDIS_URL)
    # The Redis namespace outlives the test: a unique email and address keep runs apart.
    email = f"redis-{uuid.uuid4().hex[:12]}@example.test"
    address = f"redis-test-{uuid.uuid4().hex[:12]}"
    await make_staff(role="admin", email=email)
    try:
        first = create_app(redis_settings, run_scheduler=False)
        async with in_loop_client(first, address=address) as client:
            session_id = set_cookie_value(await sign_in(client, email))
            assert session_id
            assert await first.stores.get("sessions").exists(session_id)
            assert await is_signed_in(client)
            for _ in range(5):
                failed = await sign_in(client, email, "wrong password", check=False)
                assert failed.status_code == 422
            throttled = await sign_in(client, email, check=False)
            assert throttled.status_code == 429
        # a second app (another worker) on the same Redis sees the session and the throttle
        second = create_app(redis_settings, run_scheduler=False)
        async with in_loop_client(second, address=address) as client:
            client.cookies.set(SESSION_COOKIE, session_id, domain="testserver.local")
            assert await is_signed_in(client)
            assert (await sign_in(client, email, check=False)).status_code == 429
            token = await csrf_token(client, "/manage/staff")
            await client.post("/logout", data={"_csrf_token": token})
            assert not await second.stores.get("sessions").exists(session_id)
    finally:
        db.use_engine(engine)
