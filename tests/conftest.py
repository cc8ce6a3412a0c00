"""Shared fixtures: a fresh database per test (SQLite file, or PostgreSQL when
YOUTH_HUB_TEST_POSTGRES_URL is set), settings, the app, an AsyncTestClient, a clock,
factories with domain names, and a live server in its own process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tests.support import pg
from tests.support.client import in_loop_client
from tests.support.clock import FrozenClock
from youth_hub import db
from youth_hub.settings import Settings

POSTGRES_URL = os.environ.get("YOUTH_HUB_TEST_POSTGRES_URL")
NO_POSTGRES = (
    "PostgreSQL tests skipped: set YOUTH_HUB_TEST_POSTGRES_URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run them; .ci/run does."
)


def off_loop(func: Any, *args: Any) -> Any:
    """func(*args), in a worker thread when this thread already runs an event loop: Playwright's
    sync API keeps one running while a browser is open, and asyncio.run refuses to nest."""
    if asyncio._get_running_loop() is None:
        return func(*args)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args).result()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that touches the database runs on SQLite and on PostgreSQL, but for the few
    # about one database's own mechanics (@pytest.mark.only_backend("postgres")).
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("only_backend")
        backends = [
            pytest.param("sqlite", id="sqlite"),
            pytest.param("postgres", marks=pytest.mark.postgres, id="postgres"),
        ]
        if only is not None:
            backends = [b for b in backends if b.values[0] in only.args]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once; each test copies the file (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite:///{path}"

    async def build() -> None:
        await db.migrate(db.make_engine(url), url)

    off_loop(asyncio.run, build())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    url = off_loop(pg.create_test_database, POSTGRES_URL, f"yh_test_{os.getpid()}")
    off_loop(asyncio.run, pg.migrate(url))
    yield url
    off_loop(pg.drop_test_database, POSTGRES_URL, url)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "youth_hub.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    off_loop(asyncio.run, pg.truncate_all(url))
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-" + uuid.uuid4().hex,
        base_url="http://testserver.local",
        scheduler_tick=1.0,
        rate_limits=None,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[Any]:
    """The database, started and bound to every table, for service tests (no HTTP)."""
    eng = db.make_engine(settings.database_url)
    db.use_engine(eng)
    await db.start(eng)
    yield eng
    await db.stop(eng)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    from youth_hub.app import create_app

    return create_app(settings, run_scheduler=False)


@pytest.fixture
def client_follows_redirects() -> bool:
    """Override in a domain's conftest to see redirects as they are."""
    return True


@pytest.fixture
async def client(
    app: Litestar, engine: Any, client_follows_redirects: bool
) -> AsyncIterator[httpx.AsyncClient]:
    """The app and the test in one event loop (see tests/support/client.py)."""
    async with in_loop_client(app, follow_redirects=client_follows_redirects) as test_client:
        yield test_client


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def soon(now: datetime) -> datetime:
    """A session start a week ahead: registration open, reminders not yet due."""
    return now + timedelta(days=7)


@pytest.fixture
def seed(settings: Settings) -> Any:
    """For sync tests (browser, processes): run an async function on this test's database,
    e.g. `program = seed(make_program, capacity=2)`."""

    def run(func: Any, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            eng = db.make_engine(settings.database_url)
            db.use_engine(eng)
            await db.start(eng)
            try:
                return await func(*args, **kwargs)
            finally:
                await db.stop(eng)

        return off_loop(asyncio.run, call())

    return run


@pytest.fixture
def live(settings: Settings) -> Iterator[Any]:
    """The app served by uvicorn in another process, on this test's database (sync tests)."""
    from tests.support.live import live_server

    with live_server(settings.database_url, settings.data_dir) as server:
        yield server


@pytest.fixture  # per test: an open Playwright keeps an event loop running in this thread
def browser() -> Iterator[Any]:
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()
