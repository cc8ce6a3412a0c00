"""youth_hub.sql: hand-written statements and write units on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Generator
from typing import Any

import pytest

from youth_hub import db, sql
from youth_hub.accounts.tables import StaffUser
from youth_hub.i18n import current_language, language
from youth_hub.sql import Statement

_ADD = Statement(
    "INSERT INTO accounts_staff_user (email, name, role, password_hash, active, language, "
    "created_at) VALUES ({}, {}, 'scanner', 'x', {}, 'id', CURRENT_TIMESTAMP) RETURNING id"
)
_BY_EMAIL = Statement("SELECT id, email, name FROM accounts_staff_user WHERE email = {}")


def test_placeholders_are_compiled_per_dialect() -> None:
    statement = Statement("SELECT a FROM t WHERE b = {} AND c IN ({}, {})")
    assert statement.sqlite == "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
    assert statement.postgres == "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"


async def test_fetch_returns_dicts_and_execute_returns_what_the_statement_returns(
    engine: Any,
) -> None:
    rows = await sql.execute(_ADD, "a@example.test", "Ani", True)
    assert len(rows) == 1 and isinstance(rows[0]["id"], int)
    assert await sql.fetch(_BY_EMAIL, "a@example.test") == [
        {"id": rows[0]["id"], "email": "a@example.test", "name": "Ani"}
    ]
    assert await sql.fetch(_BY_EMAIL, "nobody@example.test") == []


def _two_staff(first: str, second: str) -> sql.Unit[list[int]]:
    one = yield _ADD, (first, "Satu", True)
    two = yield _ADD, (second, "Dua", True)
    return [one[0]["id"], two[0]["id"]]


async def test_a_unit_commits_all_its_statements_and_returns_its_value(engine: Any) -> None:
    ids = await sql.run(_two_staff("one@example.test", "two@example.test"))
    assert len(set(ids)) == 2
    assert await StaffUser.count().run() == 2


async def test_a_failing_statement_rolls_back_the_whole_unit(engine: Any) -> None:
    resumed_after_failure = []

    def unit() -> Generator[Any, Any, None]:
        yield _ADD, ("same@example.test", "Satu", True)
        yield _ADD, ("same@example.test", "Dua", True)  # the unique email refuses it
        resumed_after_failure.append(True)

    with pytest.raises(Exception) as caught:
        await sql.run(unit())
    assert "unique" in str(caught.value).lower()
    assert resumed_after_failure == []
    assert await StaffUser.count().run() == 0  # the first insert went with the second
    # and the pooled connection is clean for the next unit
    await sql.run(_two_staff("x@example.test", "y@example.test"))
    assert await StaffUser.count().run() == 2


async def test_an_exception_in_the_unit_itself_rolls_back_too(engine: Any) -> None:
    def unit() -> Generator[Any, Any, None]:
        yield _ADD, ("gone@example.test", "Satu", True)
        raise ValueError("the rules said no")

    with pytest.raises(ValueError, match="the rules said no"):
        await sql.run(unit())
    assert await sql.fetch(_BY_EMAIL, "gone@example.test") == []


async def test_refused_inside_a_piccolo_transaction(engine: Any) -> None:
    # It would run on another connection, beside the transaction rather than in it.
    async with db.write_transaction():
        with pytest.raises(RuntimeError, match="outside Piccolo transactions"):
            await sql.fetch(_BY_EMAIL, "a@example.test")


@pytest.mark.only_backend("sqlite")  # PostgreSQL reads go through the asyncpg pool
async def test_sqlite_point_reads_run_on_a_read_only_connection_of_the_loop(engine: Any) -> None:
    await sql.execute(_ADD, "r@example.test", "Rani", True)
    reader = engine.loop_reader()
    assert reader is not None and reader is engine.loop_reader()  # one per loop, reused
    assert (await sql.fetch(_BY_EMAIL, "r@example.test"))[0]["name"] == "Rani"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("DELETE FROM accounts_staff_user")
    assert await StaffUser.count().run() == 1


async def test_observers_see_every_statement_in_the_dialect_run(engine: Any) -> None:
    seen: list[str] = []
    sql.statement_observers.append(seen.append)
    try:
        await sql.execute(_ADD, "o@example.test", "Oki", True)
        await sql.fetch(_BY_EMAIL, "o@example.test")
        await sql.run(_two_staff("p@example.test", "q@example.test"))
    finally:
        sql.statement_observers.remove(seen.append)
    dialect = "sqlite" if db.is_sqlite(engine) else "postgres"
    expected = [getattr(s, dialect) for s in (_ADD, _BY_EMAIL, _ADD, _ADD)]
    assert seen == expected
    await sql.fetch(_BY_EMAIL, "o@example.test")
    assert len(seen) == 4  # removed: told nothing more


async def test_run_within_uses_the_piccolo_transaction_and_goes_with_it(engine: Any) -> None:
    with pytest.raises(RuntimeError, match="inside a Piccolo transaction only"):
        await sql.run_within(sql.single(_BY_EMAIL, "w@example.test"))
    with pytest.raises(ValueError, match="changed my mind"):
        async with db.write_transaction():
            ids = await sql.run_within(_two_staff("w1@example.test", "w2@example.test"))
            assert len(ids) == 2
            # seen inside the transaction, through Piccolo as well
            assert await StaffUser.count().run() == 2
            raise ValueError("changed my mind")
    assert await StaffUser.count().run() == 0  # rolled back with the transaction
    async with db.write_transaction():
        await sql.run_within(sql.single(_ADD, "kept@example.test", "Kept", True))
    assert (await sql.fetch(_BY_EMAIL, "kept@example.test"))[0]["name"] == "Kept"


async def test_concurrent_units_each_get_their_own_answer_and_failure(engine: Any) -> None:
    """Many writers at once (on SQLite they share transactions): each gets its own value, a
    failing one fails alone, and every other one is committed."""

    async def add(n: int) -> Any:
        email = "dup@example.test" if n in (3, 7) else f"c{n}@example.test"
        return await sql.run(_two_staff(email, f"c{n}-second@example.test"))

    outcomes = await asyncio.gather(*(add(n) for n in range(20)), return_exceptions=True)
    failed = [n for n, o in enumerate(outcomes) if isinstance(o, Exception)]
    assert len(failed) == 1 and failed[0] in (3, 7)  # one of the two duplicates lost
    assert "unique" in str(outcomes[failed[0]]).lower()
    ids = [i for o in outcomes if not isinstance(o, Exception) for i in o]
    assert len(ids) == len(set(ids)) == 38
    assert await StaffUser.count().run() == 38  # nothing of the failed unit, all the rest
    assert await sql.fetch(_BY_EMAIL, f"c{failed[0]}-second@example.test") == []


@pytest.mark.only_backend("sqlite")  # PostgreSQL runs concurrent writers side by side
async def test_sqlite_units_queued_meanwhile_share_one_commit(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    original = sql._sqlite_units

    def recording(connection: Any, units: list[Any]) -> Any:
        batches.append(len(units))
        return original(connection, units)

    monkeypatch.setattr(sql, "_sqlite_units", recording)
    await asyncio.gather(*(sql.execute(_ADD, f"g{n}@example.test", "G", True) for n in range(30)))
    assert sum(batches) == 30
    assert len(batches) < 30  # those that queued behind the first went in together
    assert await StaffUser.count().run() == 30


async def test_a_unit_runs_in_its_callers_context(engine: Any) -> None:
    """On SQLite a unit runs in the connection's thread: it must still see the request's
    context variables (the language of the person registering, say)."""

    def unit() -> sql.Unit[str]:
        seen = current_language()  # before the first statement, as a unit computes its values
        yield _ADD, (f"{seen}@example.test", "Lang", True)
        return f"{seen}/{current_language()}"

    with language("en"):
        english = sql.run(unit())
        assert await english == "en/en"
    with language("id"):
        assert await sql.run(unit()) == "id/id"
    assert len(await sql.fetch(_BY_EMAIL, "en@example.test")) == 1
