"""Sign-in throttling: 5 failures per email per 15 minutes, a generous limit per address."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore

from tests.accounts.conftest import CountingHasher
from tests.accounts.helpers import csrf_token, indonesian, sign_in
from tests.factories import DEFAULT_PASSWORD, make_staff
from tests.support.client import in_loop_client
from youth_hub import db
from youth_hub.accounts.throttle import WINDOW_SECONDS, LoginThrottle
from youth_hub.app import create_app
from youth_hub.settings import RateLimit, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def fail(throttle: LoginThrottle, email: str, address: str = "10.0.0.1") -> bool:
    """One attempt that turns out wrong; True if it was allowed to check the password."""
    return (await throttle.begin(email, address)).allowed


# --- The throttle itself -----------------------------------------------------------------------


async def test_sixth_attempt_within_the_window_is_refused() -> None:
    clock = Clock()
    throttle = LoginThrottle(MemoryStore(), now=clock)
    for _ in range(5):
        assert await fail(throttle, "ayu@example.test")
        clock.now += 60
    refused = await throttle.begin("ayu@example.test", "10.0.0.1")
    assert not refused.allowed
    # free again when the first failure (5 minutes ago) leaves the 15-minute window
    assert refused.retry_after == WINDOW_SECONDS - 5 * 60
    assert await fail(throttle, "budi@example.test")  # other accounts are not affected


async def test_the_window_slides() -> None:
    clock = Clock()
    throttle = LoginThrottle(MemoryStore(), now=clock)
    for _ in range(5):
        await fail(throttle, "ayu@example.test")
    assert not await fail(throttle, "ayu@example.test")
    clock.now += WINDOW_SECONDS + 1
    assert await fail(throttle, "ayu@example.test")


async def test_refused_attempts_do_not_extend_the_block() -> None:
    clock = Clock()
    throttle = LoginThrottle(MemoryStore(), now=clock)
    for _ in range(5):
        await fail(throttle, "ayu@example.test")
    for _ in range(20):
        clock.now += 30
        assert not await fail(throttle, "ayu@example.test")
    clock.now += WINDOW_SECONDS - 20 * 30 + 1
    assert await fail(throttle, "ayu@example.test")


async def test_success_clears_the_email_and_returns_the_address_attempt() -> None:
    throttle = LoginThrottle(MemoryStore(), per_address=9)
    for _ in range(4):
        await fail(throttle, "ayu@example.test")
    attempt = await throttle.begin("ayu@example.test", "10.0.0.1")
    assert attempt.allowed
    await throttle.succeeded(attempt)
    # the email starts from zero again and the address is back to 4 of its 9: five more
    # failures fit (had the success counted, the fifth would reach the address limit)
    assert [await fail(throttle, "ayu@example.test") for _ in range(6)] == [True] * 5 + [False]


async def test_one_address_is_limited_generously_across_emails() -> None:
    throttle = LoginThrottle(MemoryStore(), per_address=12)
    allowed = [await fail(throttle, f"user{i}@example.test", "10.9.9.9") for i in range(15)]
    assert allowed == [True] * 12 + [False] * 3
    assert await fail(throttle, "user99@example.test", "10.0.0.2")


async def test_a_burst_of_parallel_guesses_gets_only_five_tries() -> None:
    throttle = LoginThrottle(MemoryStore())
    results = await asyncio.gather(
        *(fail(throttle, "ayu@example.test", f"10.0.0.{i}") for i in range(30))
    )
    assert sum(results) == 5


async def test_two_workers_share_the_count_through_the_file_store(tmp_path: Path) -> None:
    first = LoginThrottle(FileStore(tmp_path, create_directories=True))
    second = LoginThrottle(FileStore(tmp_path, create_directories=True))
    for worker in (first, second, first, second, first):
        assert await fail(worker, "ayu@example.test")
    assert not await fail(second, "ayu@example.test")
    assert not await fail(first, "ayu@example.test")


async def test_a_damaged_entry_counts_as_none() -> None:
    store = MemoryStore()
    throttle = LoginThrottle(store)
    attempt = await throttle.begin("ayu@example.test", "10.0.0.1")
    await store.set(attempt.email_key, b"\xff not json")
    await store.set(attempt.address_key, b'{"a": 1}')
    assert await fail(throttle, "ayu@example.test")


# --- Through the sign-in form ------------------------------------------------------------------


async def test_sixth_sign_in_is_refused_without_checking_the_password(
    client: httpx.AsyncClient, hasher: CountingHasher
) -> None:
    staff = await make_staff(role="organiser")
    for _ in range(5):
        response = await sign_in(client, staff["email"], "wrong password", check=False)
        assert response.status_code == 422
    assert len(hasher.verified) == 5
    blocked = await sign_in(client, staff["email"], DEFAULT_PASSWORD, check=False)
    assert blocked.status_code == 429
    message = "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again."
    assert indonesian(message).split("%(minutes)s")[0] in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= WINDOW_SECONDS
    assert len(hasher.verified) == 5  # the right password was not even looked at
    assert "yh_session" not in blocked.headers.get("set-cookie", "")
    # the same answer for an account that does not exist
    for _ in range(5):
        await sign_in(client, "ghost@example.test", "wrong password", check=False)
    ghost = await sign_in(client, "ghost@example.test", "wrong password", check=False)
    assert ghost.status_code == 429
    # another staff member behind the same address signs in normally
    other = await make_staff(role="organiser")
    assert (await sign_in(client, other["email"], check=False)).status_code == 303


async def test_parallel_wrong_passwords_reach_argon2_at_most_five_times(
    client: httpx.AsyncClient, hasher: CountingHasher
) -> None:
    staff = await make_staff(role="organiser")
    token = await csrf_token(client)
    form = {"email": staff["email"], "password": "wrong password", "_csrf_token": token}
    responses = await asyncio.gather(
        *(client.post("/login", data=form, follow_redirects=False) for _ in range(12))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [422] * 5 + [429] * 7
    assert len(hasher.verified) == 5


async def test_a_successful_sign_in_resets_the_count(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    for _ in range(4):
        await sign_in(client, staff["email"], "wrong password", check=False)
    await sign_in(client, staff["email"])
    for _ in range(4):
        await sign_in(client, staff["email"], "wrong password", check=False)
    assert (await sign_in(client, staff["email"], check=False)).status_code == 303


async def test_the_login_post_carries_the_per_address_rate_limit(
    settings: Settings, engine: Any
) -> None:
    limited = dataclasses.replace(settings, rate_limits={"login": RateLimit(3, "minute")})
    staff = await make_staff(role="organiser")
    try:
        app = create_app(limited, run_scheduler=False)
        async with in_loop_client(app) as client:
            statuses = [
                (await sign_in(client, staff["email"], "wrong password", check=False)).status_code
                for _ in range(4)
            ]
            assert statuses == [422, 422, 422, 429]
            assert (await client.get("/login")).status_code == 200  # only the POST is limited
    finally:
        db.use_engine(engine)
