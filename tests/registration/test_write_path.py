"""The registration's hand-written write path (youth_hub.sql): the rows it stores match what
the rules say, on SQLite (one unit) and on PostgreSQL (one statement, or the unit when seats
are free while people wait); a failing statement leaves nothing; the shared promotion units
run inside Piccolo transactions too. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.factories import make_program
from tests.registration.helpers import person
from youth_hub import db, sql
from youth_hub.catalog.tables import Program
from youth_hub.i18n import language
from youth_hub.messaging import enqueue_message, enqueue_statement
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.registration import get_registration, register_participant, services
from youth_hub.registration.tables import IdempotentRequest, Registration, WaitlistCounter
from youth_hub.sql import Statement
from youth_hub.web import DomainError

BASE = "http://testserver.local"
MESSAGE_ID_RE = re.compile(r"^<[0-9a-f]{32}@testserver\.local>$")


async def _register(slug: str, n: int, **kwargs: Any) -> services.RegistrationResult:
    data = person(n, **kwargs.pop("data", {}))
    return await register_participant(slug, data, base_url=BASE, **kwargs)


async def _registration_row(code: str) -> dict[str, Any]:
    row = await Registration.select().where(Registration.code == code).first().run()
    assert row is not None
    return row


async def _messages(code: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await OutboxMessage.select()
        .where(OutboxMessage.ticket_code == code)
        .order_by(OutboxMessage.id)
        .output(load_json=True)
        .run()
    )
    return rows


async def _kept(program_id: int, key: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await IdempotentRequest.select()
        .where(IdempotentRequest.key == services._key_hash(program_id, key))
        .first()
        .output(load_json=True)
        .run()
    )
    return row


async def _counters(program_id: int) -> tuple[int, int]:
    row = (
        await Program.select(Program.seats_taken, Program.waitlist_taken)
        .where(Program.id == program_id)
        .first()
        .run()
    )
    return row["seats_taken"], row["waitlist_taken"]


async def _stored() -> tuple[int, int, int]:
    return (
        await Registration.count().run(),
        await OutboxMessage.count().run(),
        await IdempotentRequest.count().run(),
    )


def _assert_message(message: dict[str, Any], *, kind: str, n: int, program_id: int) -> None:
    assert message["kind"] == kind
    assert message["to_email"] == f"budi{n}@example.id"
    assert message["to_name"] == f"Budi Santoso {n}"
    assert message["language"] == "id"
    assert message["program"] == program_id
    assert message["context"] == {}
    assert message["dedupe_key"] is None
    assert message["state"] == "pending"
    assert message["attempts"] == 0 and message["last_error"] == ""
    assert message["claimed_at"] is None and message["sent_at"] is None
    assert MESSAGE_ID_RE.match(message["message_id"]), message["message_id"]
    assert abs(message["due_at"] - datetime.now(UTC)) < timedelta(minutes=1)


async def test_rows_of_a_seat_and_of_numbered_waiting_places(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=5)
    seat = await _register(program["slug"], 1, idempotency_key="k-1")
    first = await _register(program["slug"], 2, idempotency_key="k-2")
    second = await _register(program["slug"], 3)
    assert (seat.status, seat.waitlist_position) == ("confirmed", None)
    assert (first.status, first.waitlist_position) == ("waitlisted", 1)
    assert (second.status, second.waitlist_position) == ("waitlisted", 2)
    assert await _counters(program["id"]) == (1, 2)

    row = await _registration_row(seat.code)
    assert (row["status"], row["waitlist_seq"]) == ("confirmed", None)
    assert row["program"] == program["id"]
    assert row["full_name"] == "Budi Santoso 1" and row["first_name"] == "Budi"
    assert row["email"] == "budi1@example.id" and row["phone"] == "+6281230010001"
    assert row["birth_date"] == date(2000, 5, 17) and row["gender"] == "male"
    assert (row["kecamatan"], row["village"]) == ("Bobotsari", "Banjarsari")
    assert row["guardian_consent_at"] is None  # an adult: no consent recorded
    assert row["promoted_at"] is None and row["cancelled_at"] is None
    assert [(await _registration_row(r.code))["waitlist_seq"] for r in (first, second)] == [1, 2]
    counter = await WaitlistCounter.select().where(WaitlistCounter.program == program["id"]).run()
    assert [c["last_seq"] for c in counter] == [2]

    [confirmation] = await _messages(seat.code)
    _assert_message(confirmation, kind="confirmation", n=1, program_id=program["id"])
    [waitlisted] = await _messages(first.code)
    _assert_message(waitlisted, kind="waitlisted", n=2, program_id=program["id"])
    assert confirmation["message_id"] != waitlisted["message_id"]

    # the idempotency answer kept is the answer given, for a seat and for a waiting place
    for n, result in ((1, seat), (2, first)):
        kept = await _kept(program["id"], f"k-{n}")
        assert kept is not None and kept["status_code"] == 201
        assert kept["response"] == result.as_json()
        stored = await _registration_row(result.code)
        assert kept["fingerprint"] == services._fingerprint(stored["email"], stored["phone"])
        assert await _register(program["slug"], n, idempotency_key=f"k-{n}") == result
    assert await IdempotentRequest.count().run() == 2  # none for the keyless request
    assert await _stored() == (3, 3, 2)


async def test_a_minors_consent_is_stored_with_its_time(engine: Any) -> None:
    program = await make_program(age_min=10, age_max=30)
    young = {
        "birth_date": "2012-01-09",
        "guardian_name": "Ibu Sari",
        "guardian_phone": "0813 1111 2222",
    }
    result = await _register(program["slug"], 1, data={**young, "guardian_consent": True})
    row = await _registration_row(result.code)
    assert row["guardian_name"] == "Ibu Sari" and row["guardian_phone"] == "+6281311112222"
    assert abs(row["guardian_consent_at"] - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 2, data=young)
    assert refused.value.code == "guardian_consent_required"
    assert await _stored() == (1, 1, 0)


async def test_free_seats_while_people_wait_go_to_the_waiting_list_keyed(engine: Any) -> None:
    # PostgreSQL's one statement leaves this case to the unit; SQLite always runs the unit.
    program = await make_program(capacity=1, waitlist_limit=10)
    await _register(program["slug"], 1)
    a = await _register(program["slug"], 2)
    b = await _register(program["slug"], 3)
    await Program.update({Program.capacity: 3}).where(Program.id == program["id"]).run()
    late = await _register(program["slug"], 4, idempotency_key="late")
    # the newcomer queues behind A and B, who take the two new seats in the same transaction
    assert (await get_registration(a.code) or {})["status"] == "confirmed"
    assert (await get_registration(b.code) or {})["status"] == "confirmed"
    assert (late.status, late.waitlist_position) == ("waitlisted", 1)
    assert await _counters(program["id"]) == (3, 1)
    assert [m["kind"] for m in await _messages(a.code)] == ["waitlisted", "promoted"]
    assert [m["kind"] for m in await _messages(late.code)] == ["waitlisted"]
    kept = await _kept(program["id"], "late")
    assert kept is not None and kept["response"] == late.as_json()


async def test_a_newcomer_promoted_by_the_fill_gets_one_confirmation(engine: Any) -> None:
    # Seats free while the counter says someone waits, but nobody does: the fill gives the
    # seat to whoever is first, the newcomer included, in one transaction.
    program = await make_program(capacity=1, waitlist_limit=10)
    await _register(program["slug"], 1)
    await (
        Program.update({Program.capacity: 2, Program.waitlist_taken: 1})
        .where(Program.id == program["id"])
        .run()
    )
    late = await _register(program["slug"], 2, idempotency_key="in")
    assert (late.status, late.waitlist_position) == ("confirmed", None)
    assert await _counters(program["id"]) == (2, 1)  # the stale waiting count is left alone
    assert [m["kind"] for m in await _messages(late.code)] == ["confirmation"]
    kept = await _kept(program["id"], "in")
    assert kept is not None and kept["response"] == late.as_json()


async def test_a_failing_statement_leaves_nothing(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last statement of the write fails: the seat, the row and the message go with it."""
    program = await make_program(capacity=2)
    postgres = not db.is_sqlite(db.current_engine())
    if postgres:
        broken = services._REGISTER_AT_ONCE_PG_SQL + (
            " SELECT reg.id, reg.status, took.waitlist_taken / 0 AS waitlist_taken FROM reg, took"
        )
        monkeypatch.setattr(services, "_REGISTER_AT_ONCE_PG", Statement(broken))
    else:
        monkeypatch.setattr(
            services, "_REMEMBER", Statement("INSERT INTO no_such_table VALUES ({}, {}, {}, {})")
        )
    with pytest.raises(Exception) as failed:
        await _register(program["slug"], 1, idempotency_key=None if postgres else "boom")
    assert not isinstance(failed.value, DomainError)
    assert await _counters(program["id"]) == (0, 0)
    assert await _stored() == (0, 0, 0)
    assert await WaitlistCounter.count().run() == 0
    monkeypatch.undo()
    assert (await _register(program["slug"], 1)).status == "confirmed"


async def test_full_and_closed_meanwhile_are_told_apart(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seat UPDATE finds no room after the read said there was: nothing is stored, and
    the answer says why (full, or cancelled since)."""
    program = await make_program(capacity=1, waitlist_limit=0)
    read = await services.get_public_program(program["slug"], email="x@example.id", phone="")
    await _register(program["slug"], 1)

    async def stale(slug: Any, **_: Any) -> dict[str, Any]:
        return {**read, "duplicate": False}

    monkeypatch.setattr(services, "get_public_program", stale)
    with pytest.raises(DomainError) as full:
        await _register(program["slug"], 2)
    assert full.value.code == "full"
    await Program.update({Program.status: "cancelled"}).where(Program.id == program["id"]).run()
    with pytest.raises(DomainError) as closed:
        await _register(program["slug"], 3)
    assert closed.value.code == "program_cancelled"
    assert await _stored() == (1, 1, 0)
    assert await _counters(program["id"]) == (1, 0)


async def test_shared_units_need_a_piccolo_transaction(engine: Any) -> None:
    program = await make_program()
    with pytest.raises(RuntimeError):
        await services._fill_free_seats(program["id"], now=datetime.now(UTC), base_url=BASE)
    async with db.write_transaction():
        assert (
            await services._fill_free_seats(program["id"], now=datetime.now(UTC), base_url=BASE)
            == []
        )


async def test_enqueue_statement_stores_what_enqueue_message_stores(engine: Any) -> None:
    program = await make_program()

    def message(code: str) -> dict[str, Any]:
        return {
            "kind": "confirmation",
            "to_email": "a@example.id",
            "to_name": "A" * 300,
            "language": "xx",
            "ticket_code": code,
            "program_id": program["id"],
            "base_url": BASE,
            "context": {"link": "https://x/é"},
        }

    async with db.write_transaction():
        await enqueue_message(**message("by-piccolo"))

    def unit() -> sql.Unit[sql.Rows]:
        rows = yield enqueue_statement(**message("by-hand"))
        return rows

    [inserted] = await sql.run(unit())
    ignored = {"id", "ticket_code", "message_id", "due_at", "created_at"}
    [by_piccolo], [by_hand] = await _messages("by-piccolo"), await _messages("by-hand")
    assert by_hand["id"] == inserted["id"]
    assert {k: v for k, v in by_hand.items() if k not in ignored} == {
        k: v for k, v in by_piccolo.items() if k not in ignored
    }
    assert by_hand["language"] == "id" and len(by_hand["to_name"]) == 200
    assert by_hand["context"] == {"link": "https://x/é"}
    with pytest.raises(ValueError):
        enqueue_statement(**{**message("x"), "kind": "nonsense"})


async def test_an_english_registrant_is_stored_and_written_to_in_english(engine: Any) -> None:
    program = await make_program()
    with language("en"):
        await register_participant(program["slug"], person(7), base_url=BASE)
    stored = await Registration.select(Registration.language).first().run()
    message = await OutboxMessage.select(OutboxMessage.language).first().run()
    assert (stored["language"], message["language"]) == ("en", "en")
