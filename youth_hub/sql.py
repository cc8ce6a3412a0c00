"""Hand-written statements for the hot paths (a scan, a Bearer token), run on the driver.

Piccolo builds every query anew (its ForeignKey traversal calls `dir()` per column) and sends
each statement through its engine; on SQLite every statement is also a hop to the
connection's thread and back. On a check-in that was most of the request's CPU. Here a
statement is written once with Piccolo's `{}` placeholders and compiled per dialect once.

A *unit* is a generator that yields `(statement, args)` and is sent back the rows; `run()`
executes it as one write transaction: on SQLite whole inside the connection's thread (one
hop), its own savepoint in a transaction shared with the units that queued meanwhile (group
commit: one commit and one disk flush for all); on PostgreSQL statement by statement on one
connection.
The rules stay in the generator, written once for both databases.

Everything that is not a hot path keeps using Piccolo's query builder.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any, TypeVar

from piccolo.engine.base import Engine

from youth_hub import db

T = TypeVar("T")
# Told the text of every statement run here (tests and bench count statements per page).
statement_observers: list[Callable[[str], None]] = []
Rows = list[dict[str, Any]]
Unit = Generator[tuple["Statement", Sequence[Any]], Rows, T]


class Statement:
    """One SQL text with `{}` placeholders (as in Piccolo's `raw()`), compiled per dialect."""

    __slots__ = ("postgres", "sqlite")

    def __init__(self, text: str) -> None:
        parts = text.split("{}")
        self.sqlite = "?".join(parts)
        self.postgres = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


def _refuse_nested(engine: Engine) -> None:
    # A Piccolo transaction holds its own connection: a statement here would run beside it,
    # not in it (and on SQLite wait for its lock).
    if engine.current_transaction.get() is not None:
        raise RuntimeError("youth_hub.sql runs outside Piccolo transactions only")


@contextlib.asynccontextmanager
async def _sqlite_connection(engine: Any) -> AsyncIterator[Any]:
    """A pooled aiosqlite connection (a fresh one on an event loop the pool does not serve)."""
    if isinstance(engine, db.PooledSQLiteEngine) and engine._pooling():
        connection = await engine._acquire()
        try:
            yield connection
        finally:
            await engine._release(connection)
        return
    connection = await engine.get_connection()
    try:
        yield connection
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _postgres_connection(engine: Any) -> AsyncIterator[Any]:
    if engine.pool is not None:
        async with engine.pool.acquire() as connection:
            yield connection
        return
    connection = await engine.get_new_connection()
    try:
        yield connection
    finally:
        await connection.close()


# At most this many units share one SQLite transaction (one commit, one flush). Small batches
# keep the writes pipelined: while one commits, the loop answers the previous one's callers.
# Measured with bench.checkin at 32 clients: p99 12 ms at 8, 60-70 ms at 16 and 64 (the
# callers of a big batch all wake at once and wait for each other's responses).
GROUP_COMMIT_LIMIT = 8


class _SqliteWriter:
    """The write units of one event loop, committed together (group commit). SQLite lets one
    writer in at a time, and a commit waits for the disk: the units that arrive while one
    transaction runs go into the next one, each in its own savepoint, so one unit's failure
    is its own while the rest commit. Queueing here rather than in SQLite's busy handler
    (which sleeps up to 100 ms between tries) keeps the p99 short."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.waiting: list[tuple[Unit[Any], contextvars.Context, asyncio.Future[Any]]] = []
        self.draining = False
        self.task: asyncio.Future[None] | None = None

    async def submit(self, unit: Unit[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # The unit runs in the connection's thread, but in its caller's context (the
        # request's language, say), as it would have run on the loop.
        self.waiting.append((unit, contextvars.copy_context(), future))
        if not self.draining:
            self.draining = True
            self.task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch = self.waiting[:GROUP_COMMIT_LIMIT]
                del self.waiting[:GROUP_COMMIT_LIMIT]
                try:
                    async with _sqlite_connection(self.engine) as connection:
                        outcomes = await connection._execute(
                            _sqlite_units, connection._conn, [(u, c) for u, c, _ in batch]
                        )
                except BaseException as exc:  # the transaction itself failed: all of them
                    outcomes = [(False, exc)] * len(batch)
                for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller went away; the write stands
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self.draining = False


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SqliteWriter] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_writer(engine: Any) -> _SqliteWriter:
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None or writer.engine is not engine:
        writer = _writers[loop] = _SqliteWriter(engine)
    return writer


# ------------------------------------------------------------------ in the SQLite thread


def _observe(text: str) -> None:
    for observer in statement_observers:
        observer(text)


def _sqlite_rows(connection: sqlite3.Connection, statement: Statement, args: Sequence[Any]) -> Rows:
    if statement_observers:
        _observe(statement.sqlite)
    rows: Rows = connection.execute(statement.sqlite, tuple(args)).fetchall()
    return rows


def _drive(connection: sqlite3.Connection, unit: Unit[T]) -> T:
    try:
        request = next(unit)
        while True:
            request = unit.send(_sqlite_rows(connection, *request))
    except StopIteration as done:
        result: T = done.value
        return result


def _sqlite_units(
    connection: sqlite3.Connection, units: list[tuple[Unit[Any], contextvars.Context]]
) -> list[tuple[bool, Any]]:
    """Run units in one transaction, each in a savepoint: (True, its value) or (False, the
    exception that rolled it back). An error of the transaction itself raises."""
    outcomes: list[tuple[bool, Any]] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        for unit, context in units:
            connection.execute("SAVEPOINT unit")
            try:
                value = context.run(_drive, connection, unit)
            except Exception as exc:
                connection.execute("ROLLBACK TO unit")
                connection.execute("RELEASE unit")
                outcomes.append((False, exc))
            else:
                connection.execute("RELEASE unit")
                outcomes.append((True, value))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return outcomes


async def _postgres_rows(connection: Any, statement: Statement, args: Sequence[Any]) -> Rows:
    if statement_observers:
        _observe(statement.postgres)
    return [dict(row) for row in await connection.fetch(statement.postgres, *args)]


async def _aiosqlite_rows(connection: Any, statement: Statement, args: Sequence[Any]) -> Rows:
    if statement_observers:
        _observe(statement.sqlite)
    return list(await connection.execute_fetchall(statement.sqlite, tuple(args)))


async def _drive_async(
    unit: Unit[T], rows_of: Callable[[Statement, Sequence[Any]], Awaitable[Rows]]
) -> T:
    """A unit, statement by statement, on the event loop (PostgreSQL, or inside a Piccolo
    transaction); `_drive` is the same in SQLite's thread."""
    try:
        request = next(unit)
        while True:
            request = unit.send(await rows_of(*request))
    except StopIteration as done:
        value: T = done.value
        return value


# ------------------------------------------------------------------ the API


async def fetch(statement: Statement, *args: Any) -> Rows:
    """The rows of one short read (by key, a few rows), as dicts. On SQLite it runs on the
    event loop's thread itself (see PooledSQLiteEngine.loop_reader): keep it to point reads."""
    engine = db.current_engine()
    _refuse_nested(engine)
    if db.is_sqlite(engine):
        reader = engine.loop_reader() if isinstance(engine, db.PooledSQLiteEngine) else None
        if reader is not None:
            return _sqlite_rows(reader, statement, args)
        async with _sqlite_connection(engine) as connection:
            rows: Rows = await connection._execute(_sqlite_rows, connection._conn, statement, args)
            return rows
    async with _postgres_connection(engine) as connection:
        return await _postgres_rows(connection, statement, args)


async def execute(statement: Statement, *args: Any) -> Rows:
    """One write statement on its own (its own transaction); the rows it returns, if any."""
    engine = db.current_engine()
    _refuse_nested(engine)
    if db.is_sqlite(engine):
        return await _sqlite_writer(engine).submit(single(statement, *args))
    async with _postgres_connection(engine) as connection:
        return await _postgres_rows(connection, statement, args)


async def run(unit: Unit[T]) -> T:
    """Run a unit as one write transaction and return what it returns. A statement that
    fails (an integrity error, say) undoes everything the unit wrote and reaches the caller;
    the unit is not resumed."""
    engine = db.current_engine()
    _refuse_nested(engine)
    if db.is_sqlite(engine):
        return await _sqlite_writer(engine).submit(unit)
    async with _postgres_connection(engine) as connection, connection.transaction():
        return await _drive_async(unit, functools.partial(_postgres_rows, connection))


def single(statement: Statement, *args: Any) -> Unit[Rows]:
    """A unit of one statement (for `run_within`)."""
    rows = yield statement, args
    return rows


async def run_within(unit: Unit[T]) -> T:
    """Run a unit inside the current Piccolo transaction, on its connection, statement by
    statement: for rules written once as units and used both by a hand-written write and by
    code that already holds a Piccolo transaction (a cancellation, a capacity change)."""
    engine = db.current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("youth_hub.sql.run_within runs inside a Piccolo transaction only")
    connection = transaction.connection
    rows_of = _aiosqlite_rows if db.is_sqlite(engine) else _postgres_rows
    return await _drive_async(unit, functools.partial(rows_of, connection))
