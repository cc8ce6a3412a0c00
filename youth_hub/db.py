"""The few SQLite/PostgreSQL differences: engines, write transactions, migrations under a lock."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant shared by every process: the advisory lock that serialises migrations.
_MIGRATION_LOCK_ID = 0x59485542  # "YHUB"


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(sqlite_path(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level None (Piccolo's default) plus our explicit BEGIN IMMEDIATE for writes;
        # the timeout is sqlite3's busy timeout, so concurrent writers wait instead of failing.
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return PostgresEngine(config={"dsn": url})


def is_sqlite(engine: Engine) -> bool:
    return isinstance(engine, SQLiteEngine)


def all_table_classes() -> list[Any]:
    from piccolo.apps.migrations.tables import Migration
    from piccolo.conf.apps import Finder

    return [*Finder().get_table_classes(), Migration]


def use_engine(engine: Engine) -> None:
    """Point piccolo_conf and every table at this engine (tests use a fresh database each)."""
    import piccolo_conf

    piccolo_conf.DB = engine
    for table in all_table_classes():
        table._meta.db = engine


def current_engine() -> Engine:
    import piccolo_conf

    engine: Engine = piccolo_conf.DB
    return engine


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A short write transaction: BEGIN IMMEDIATE on SQLite so concurrent writers queue on the
    busy timeout instead of failing with "database is locked" when a read turns into a write."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate) as txn:
            yield txn
    else:
        async with engine.transaction() as txn:
            yield txn


async def start(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=10)
    else:
        # WAL lets readers go on while one writer writes; it is a property of the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def stop(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


async def ping(engine: Engine) -> bool:
    try:
        await engine.run_ddl("SELECT 1")
    except Exception:
        return False
    return True


async def migrate(engine: Engine, database_url: str) -> None:
    """Apply pending migrations; safe when several processes start at once."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    use_engine(engine)
    async with _migration_lock(engine, database_url):
        # Piccolo prints a line per migration; the command line keeps quiet.
        with contextlib.redirect_stdout(io.StringIO()):
            result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"Migrations failed: {result.message}")


@contextlib.asynccontextmanager
async def _migration_lock(engine: Engine, database_url: str) -> AsyncIterator[None]:
    if isinstance(engine, SQLiteEngine):
        lock_path = Path(engine.path + ".migrate.lock")
        with lock_path.open("w") as handle:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    import asyncpg

    dsn = database_url.replace("postgres://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
    finally:
        await conn.close()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")
