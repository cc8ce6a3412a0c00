"""An httpx client to the app, with the app's lifespan, both in the test's own event loop.

Litestar's AsyncTestClient runs the app in a portal thread with its own loop; the lifespan
binds every table to the app's engine, whose PostgreSQL pool would then belong to that other
loop, and a factory awaited by the test would fail ("attached to a different loop"). Here
factories, services and requests share one pool on both databases, and requests sent with
asyncio.gather really overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from litestar import Litestar


@contextlib.asynccontextmanager
async def in_loop_client(
    app: Litestar,
    base_url: str = "http://testserver.local",
    address: str = "203.0.113.7",
    *,
    follow_redirects: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
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
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, follow_redirects=follow_redirects
        ) as test_client:
            yield test_client
    finally:
        stopping.set()
        await lifespan
