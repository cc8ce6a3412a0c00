"""`client` for the check-in tests: the app and the test in ONE event loop (as in the accounts
and catalog tests), so factories, services and requests share one PostgreSQL pool."""

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
        async with app.lifespan():  # one task enters and exits it (anyio cancel scopes)
            started.set()
            await stopping.wait()

    lifespan = asyncio.create_task(run_lifespan())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({lifespan, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        waiter.cancel()
        lifespan.result()
    transport = httpx.ASGITransport(app=app, client=("203.0.113.20", 50000))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local"
        ) as test_client:
            yield test_client
    finally:
        stopping.set()
        await lifespan
