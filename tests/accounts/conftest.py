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
from litestar import Litestar

from tests.accounts.helpers import in_loop_client


@pytest.fixture
async def client(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with in_loop_client(app) as test_client:
        yield test_client
