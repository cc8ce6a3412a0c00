"""`client` for the tickets tests: the app and the test in ONE event loop.

Litestar's AsyncTestClient runs the app in a portal thread with its own loop; the lifespan
binds every table to the app's engine, whose PostgreSQL pool then belongs to that loop, and a
factory awaited by the test fails ("attached to a different loop"). Here the lifespan and the
requests run in the test's loop through httpx's ASGITransport (as tests/accounts does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar


@pytest.fixture
async def client(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    started, stopping = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # One task enters and exits the lifespan (anyio cancel scopes insist on it).
        async with app.lifespan():
            started.set()
            await stopping.wait()

    lifespan = asyncio.create_task(run_lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({lifespan, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        waiter.cancel()
        lifespan.result()  # start-up failed: raise its error here
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local", follow_redirects=True
        ) as test_client:
            yield test_client
    finally:
        stopping.set()
        await lifespan
