"""`client` for the accounts tests: the app and the test in ONE event loop.

Litestar's AsyncTestClient runs the app (lifespan and requests) in a portal thread with its
own event loop; the lifespan binds every table to the app's engine, whose PostgreSQL pool then
belongs to that other loop, so a factory awaited by the test fails ("attached to a different
loop"). `in_loop_client` runs the lifespan and the requests in the test's own loop through
httpx's ASGITransport, so factories, services and requests share one pool on both databases,
and requests sent with asyncio.gather really overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from litestar import Litestar

from tests.accounts.helpers import in_loop_client
from youth_hub.accounts import passwords


@pytest.fixture
async def client(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with in_loop_client(app) as test_client:
        yield test_client


class CountingHasher:
    """Wraps the real argon2 hasher and records which hash each verification used."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.verified: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return self.real.verify(password_hash, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    spy = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    return spy
