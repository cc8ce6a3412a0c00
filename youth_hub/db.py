"""The few SQLite/PostgreSQL differences: engines, write transactions, migrations under a lock."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory

SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant shared by every process: the advisory lock that serialises migrations.
_MIGRATION_LOCK_ID = 0x59485542  # "YHUB"


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine opens a connection, and a thread, for every statement and
    every transaction (about 2 ms of CPU each). Here both reuse a few long-lived connections
    of the event loop that first used the engine; other loops get fresh ones as before."""

    __slots__ = ("_closed", "_idle", "_open", "_pool_loop", "_pool_size", "_reader")

    def __init__(self, path: str, *, pool_size: int = 8, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._pool_size = pool_size
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.Queue[Any] | None = None
        self._open = 0
        self._closed = False
        self._reader: sqlite3.Connection | None = None

    def _pooling(self) -> bool:
        loop = asyncio.get_running_loop()
        if self._pool_loop is None and not self._closed:
            self._pool_loop, self._idle = loop, asyncio.Queue()
        return loop is self._pool_loop and not self._closed

    async def _connect(self) -> Any:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon: a pool nobody closed would keep the
        # process from exiting. SQLite's journal makes an abrupt end safe.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _acquire(self) -> Any:
        assert self._idle is not None
        try:
            return self._idle.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self._open < self._pool_size:
            self._open += 1
            try:
                return await self._connect()
            except BaseException:
                self._open -= 1
                raise
        return await self._idle.get()

    async def _release(self, connection: Any) -> None:
        assert self._idle is not None
        try:
            if connection.in_transaction:  # never hand on a half-finished transaction
                await connection.rollback()
        except BaseException:
            self._open -= 1
            await connection.close()
            raise
        self._idle.put_nowait(connection)

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        if not self._pooling():
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self._acquire()
        try:
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()
        finally:
            await self._release(connection)

    async def get_connection(self) -> Any:
        """Used by Piccolo's transactions: a pooled connection that `close()` hands back."""
        if not self._pooling():
            return await super().get_connection()
        return _Lease(await self._acquire(), self)

    def loop_reader(self) -> sqlite3.Connection | None:
        """A read-only connection used on the event loop's own thread, for short point reads
        (youth_hub.sql.fetch): in WAL mode a read never waits for a writer, and a read by key
        costs less than the hop to a connection's thread and back. None off the pool's loop."""
        if not self._pooling():
            return None
        if self._reader is None:
            reader = sqlite3.connect(**{**self.connection_kwargs, "timeout": 1.0})
            reader.row_factory = dict_factory
            reader.execute("PRAGMA query_only = 1")
            self._reader = reader
        return self._reader

    async def close_pool(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        while self._idle is not None and not self._idle.empty():
            await self._idle.get_nowait().close()
            self._open -= 1


class _Lease:
    """A pooled connection lent to one transaction; Piccolo closes it at the end, which
    here gives it back to the pool."""

    __slots__ = ("_connection", "_engine")

    def __init__(self, connection: Any, engine: PooledSQLiteEngine) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_engine", engine)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)

    async def close(self) -> None:
        await self._engine._release(self._connection)


async def _keep_session(connection: Any) -> None:
    """asyncpg resets each connection going back to the pool with RESET ALL, UNLISTEN and
    advisory-unlock round trips; we set none of those (an open transaction is still rolled
    back by asyncpg itself), so skip them."""


def sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(sqlite_path(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level None (Piccolo's default) plus our explicit BEGIN IMMEDIATE for writes;
        # the timeout is sqlite3's busy timeout, so concurrent writers wait instead of failing.
        return PooledSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
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
        await engine.start_connection_pool(min_size=1, max_size=10, reset=_keep_session)
    else:
        # WAL lets readers go on while one writer writes; it is a property of the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def stop(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.close_pool()


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
        with lock_path.open("w") as handle:  # noqa: ASYNC230 (a lock file, opened once at start-up)
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
