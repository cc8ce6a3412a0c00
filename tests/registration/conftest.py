"""`client` for the registration tests: the app and the test in one event loop (see
helpers.in_loop_client), so PostgreSQL works from both the app and the factories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.registration.helpers import in_loop_client


@pytest.fixture
async def client(app: Litestar, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with in_loop_client(app) as test_client:
        yield test_client
