"""Registration rules without HTTP: eligibility, seats, the waiting list, cancellation and
promotion, idempotency, duplicates, links to one's tickets. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.factories import make_program, make_staff
from tests.registration.helpers import person
from youth_hub.accounts import CurrentUser, Role
from youth_hub.catalog.tables import Program
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.registration import (
    cancel_registration,
    fill_free_seats,
    get_registration,
    promote_registration,
    register_participant,
    waitlist_position,
)
from youth_hub.registration.services import (
    consume_my_tickets_link,
    request_my_tickets_link,
    tickets_for_email,
)
from youth_hub.registration.tables import IdempotentRequest, MyTicketsLink, Registration
from youth_hub.web import DomainError

BASE = "http://testserver.local"


async def _register(slug: str, n: int, **kwargs: Any) -> Any:
    return await register_participant(slug, person(n), base_url=BASE, **kwargs)


async def _counters(program_id: int) -> tuple[int, int]:
    row = (
        await Program.select(Program.seats_taken, Program.waitlist_taken)
        .where(Program.id == program_id)
        .first()
        .run()
    )
    return row["seats_taken"], row["waitlist_taken"]


async def _kinds(code: str) -> list[str]:
    rows = (
        await OutboxMessage.select(OutboxMessage.kind)
        .where(OutboxMessage.ticket_code == code)
        .order_by(OutboxMessage.id)
        .run()
    )
    return [r["kind"] for r in rows]


async def _nothing_stored() -> None:
    assert await Registration.count().run() == 0
    assert await OutboxMessage.count().run() == 0
    assert await IdempotentRequest.count().run() == 0


def _user(row: dict[str, Any]) -> CurrentUser:
    return CurrentUser(id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]))


# --------------------------------------------------------------------------- seats


async def test_seats_then_numbered_waiting_list_then_full(engine: Any) -> None:
    program = await make_program(capacity=2, waitlist_limit=2)
    results = [await _register(program["slug"], n) for n in range(1, 5)]
    assert [r.status for r in results] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [r.waitlist_position for r in results] == [None, None, 1, 2]
    assert results[0].ticket_url == f"{BASE}/tickets/{results[0].code}"
    assert len(results[0].code) >= 22  # 128+ bits
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 5)
    assert refused.value.code == "full" and refused.value.status_code == 409
    assert await _counters(program["id"]) == (2, 2)
    assert await Registration.count().run() == 4
    assert await _kinds(results[0].code) == ["confirmation"]
    assert await _kinds(results[2].code) == ["waitlisted"]


async def test_no_waiting_list_when_its_limit_is_zero(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=0)
    await _register(program["slug"], 1)
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 2)
    assert refused.value.code == "full"


async def test_unlimited_waiting_list_when_limit_is_null(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=None)
    results = [await _register(program["slug"], n) for n in range(1, 8)]
    assert [r.waitlist_position for r in results] == [None, 1, 2, 3, 4, 5, 6]


async def test_cancelling_a_seat_promotes_the_first_waiting_in_the_same_transaction(
    engine: Any,
) -> None:
    program = await make_program(capacity=1, waitlist_limit=5)
    first, second, third = [await _register(program["slug"], n) for n in (1, 2, 3)]
    answer = await cancel_registration(first.code, base_url=BASE)
    assert answer == {"code": first.code, "status": "cancelled", "promoted": True}
    promoted = await get_registration(second.code)
    assert promoted is not None and promoted["status"] == "confirmed"
    assert promoted["promoted_at"] is not None and promoted["waitlist_position"] is None
    still = await get_registration(third.code)
    assert still is not None and still["waitlist_position"] == 1
    assert await _counters(program["id"]) == (1, 1)  # seats unchanged, one fewer waiting
    assert await _kinds(first.code) == ["confirmation", "cancelled"]
    assert await _kinds(second.code) == ["waitlisted", "promoted"]


async def test_cancelling_a_seat_without_waiting_list_frees_it(engine: Any) -> None:
    program = await make_program(capacity=1)
    first = await _register(program["slug"], 1)
    answer = await cancel_registration(first.code, base_url=BASE)
    assert answer["promoted"] is False
    assert await _counters(program["id"]) == (0, 0)
    again = await _register(program["slug"], 2)
    assert again.status == "confirmed"


async def test_cancelling_a_waiting_place_renumbers_the_rest(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=10)
    results = [await _register(program["slug"], n) for n in range(1, 6)]
    await cancel_registration(results[2].code, base_url=BASE)  # place 2 of 4
    positions = [await waitlist_position(await get_registration(r.code) or {}) for r in results[1:]]
    assert positions == [1, None, 2, 3]
    assert await _counters(program["id"]) == (1, 3)
    # the freed place is taken by the next registrant, at the end
    late = await _register(program["slug"], 9)
    assert late.waitlist_position == 4


async def test_cancelling_twice_is_a_409_and_unknown_codes_a_404(engine: Any) -> None:
    program = await make_program(capacity=1)
    result = await _register(program["slug"], 1)
    await cancel_registration(result.code, base_url=BASE)
    with pytest.raises(DomainError) as again:
        await cancel_registration(result.code, base_url=BASE)
    assert again.value.code == "already_cancelled" and again.value.status_code == 409
    assert await _counters(program["id"]) == (0, 0)  # not freed twice
    for code in ("nope-nope-nope-nope", "", "x" * 500, "'; DROP TABLE x; --"):
        with pytest.raises(DomainError) as missing:
            await cancel_registration(code, base_url=BASE)
        assert missing.value.status_code == 404


async def test_concurrent_cancellations_promote_distinct_people(engine: Any) -> None:
    program = await make_program(capacity=3, waitlist_limit=10)
    seated = [await _register(program["slug"], n) for n in (1, 2, 3)]
    waiting = [await _register(program["slug"], n) for n in (4, 5, 6, 7)]
    await asyncio.gather(*(cancel_registration(r.code, base_url=BASE) for r in seated))
    statuses = [(await get_registration(r.code) or {})["status"] for r in waiting]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    assert await _counters(program["id"]) == (3, 1)


# --------------------------------------------------------------------------- staff promotion


async def test_staff_give_a_freed_seat_when_capacity_grows(engine: Any) -> None:
    organiser = await make_staff("organiser")
    other = await make_staff("organiser")
    program = await make_program(capacity=1, waitlist_limit=5, organiser=organiser)
    await _register(program["slug"], 1)
    waiting = await _register(program["slug"], 2)
    with pytest.raises(DomainError) as no_seat:
        await promote_registration(waiting.code, base_url=BASE, actor=_user(organiser))
    assert no_seat.value.code == "no_free_seat"
    await Program.update({Program.capacity: 2}).where(Program.id == program["id"]).run()
    with pytest.raises(DomainError) as foreign:
        await promote_registration(waiting.code, base_url=BASE, actor=_user(other))
    assert foreign.value.status_code == 404
    answer = await promote_registration(waiting.code, base_url=BASE, actor=_user(organiser))
    assert answer["status"] == "confirmed"
    assert await _counters(program["id"]) == (2, 0)
    assert await _kinds(waiting.code) == ["waitlisted", "promoted"]
    with pytest.raises(DomainError) as twice:
        await promote_registration(waiting.code, base_url=BASE, actor=_user(organiser))
    assert twice.value.code == "not_waitlisted"


async def test_a_grown_capacity_goes_to_the_waiting_list_first(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=10)
    await _register(program["slug"], 1)
    a, b = await _register(program["slug"], 2), await _register(program["slug"], 3)
    await Program.update({Program.capacity: 2}).where(Program.id == program["id"]).run()
    late = await _register(program["slug"], 4)
    # the newcomer does not jump the queue: A takes the new seat, the newcomer waits behind B
    assert late.status == "waitlisted" and late.waitlist_position == 2
    assert (await get_registration(a.code) or {})["status"] == "confirmed"
    assert (await get_registration(b.code) or {})["waitlist_position"] == 1
    await Program.update({Program.capacity: 4}).where(Program.id == program["id"]).run()
    assert await fill_free_seats(program["slug"], base_url=BASE) == 2
    assert await _counters(program["id"]) == (4, 0)


# --------------------------------------------------------------------------- age and consent


async def test_age_counts_at_the_first_session_date_in_wib(engine: Any) -> None:
    # 17:30 UTC on 20 December is already 21 December in Purbalingga (UTC+7).
    starts = datetime(2030, 12, 20, 17, 30, tzinfo=UTC)
    program = await make_program(starts_at=starts, age_min=16, age_max=30)
    now = starts - timedelta(days=10)
    data = person(
        1,
        birth_date="2014-12-21",
        guardian_name="Ibu Sri",
        guardian_phone="0813 1111 2222",
        guardian_consent=True,
    )
    result = await register_participant(program["slug"], data, base_url=BASE, now=now)
    assert result.status == "confirmed"
    row = await get_registration(result.code)
    assert row is not None and row["guardian_consent_at"] == now
    with pytest.raises(DomainError) as young:
        await register_participant(
            program["slug"], person(2, birth_date="2014-12-22"), base_url=BASE, now=now
        )
    assert young.value.code == "age_out_of_range" and young.value.status_code == 422
    assert young.value.errors[0].field == "birth_date"


@pytest.mark.parametrize("day,accepted", [(date(2026, 2, 28), False), (date(2026, 3, 1), True)])
async def test_born_on_29_february_is_18_on_1_march(engine: Any, day: date, accepted: bool) -> None:
    starts = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 09.00 WIB that day
    program = await make_program(starts_at=starts, age_min=18, age_max=30)
    data = person(1, birth_date="2008-02-29")
    now = starts - timedelta(days=20)
    if accepted:
        result = await register_participant(program["slug"], data, base_url=BASE, now=now)
        assert result.status == "confirmed"
    else:
        with pytest.raises(DomainError) as refused:
            await register_participant(program["slug"], data, base_url=BASE, now=now)
        assert refused.value.code == "age_out_of_range"


async def test_a_minor_without_guardian_consent_gets_no_ticket(engine: Any) -> None:
    program = await make_program(age_min=13, age_max=30)
    minor = person(
        1,
        birth_date=(date.today() - timedelta(days=15 * 365)).isoformat(),
        guardian_name="Pak Darto",
        guardian_phone="0813 3333 4444",
    )
    with pytest.raises(DomainError) as refused:
        await register_participant(program["slug"], minor, base_url=BASE)
    assert refused.value.code == "guardian_consent_required"
    assert refused.value.status_code == 422
    assert [e.field for e in refused.value.errors] == ["guardian_consent"]
    await _nothing_stored()
    assert await _counters(program["id"]) == (0, 0)


# --------------------------------------------------------------------------- window and status


@pytest.mark.parametrize(
    "change,code,status",
    [
        ({"status": "draft"}, "program_not_found", 404),
        ({"status": "cancelled"}, "program_cancelled", 409),
        ({"status": "finished"}, "program_finished", 409),
        ({"registration_opens_at": timedelta(days=1)}, "registration_not_open", 409),
        ({"registration_closes_at": timedelta(days=-1)}, "registration_closed", 409),
        ({"starts_at": timedelta(hours=-1)}, "registration_closed", 409),
    ],
)
async def test_closed_programs_refuse_with_a_reason_and_store_nothing(
    engine: Any,
    change: dict[str, Any],
    code: str,
    status: int,
) -> None:
    now = datetime.now(UTC)
    kwargs = {k: (now + v if isinstance(v, timedelta) else v) for k, v in change.items()}
    program = await make_program(**kwargs)
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 1)
    assert refused.value.code == code and refused.value.status_code == status
    assert refused.value.message
    await _nothing_stored()


async def test_unknown_program_is_a_404(engine: Any) -> None:
    for slug in ("no-such-program", "", "x" * 1000, "../../etc/passwd"):
        with pytest.raises(DomainError) as missing:
            await register_participant(slug, person(1), base_url=BASE)
        assert missing.value.status_code == 404


async def test_bad_input_changes_nothing(engine: Any) -> None:
    program = await make_program(capacity=1)
    with pytest.raises(DomainError) as refused:
        await register_participant(
            program["slug"], person(1, email="not-an-email"), base_url=BASE, idempotency_key="k-1"
        )
    assert refused.value.status_code == 422
    assert [e.field for e in refused.value.errors] == ["email"]
    await _nothing_stored()
    assert await _counters(program["id"]) == (0, 0)


# --------------------------------------------------------------------------- duplicates


async def test_one_live_registration_per_email_and_per_phone(engine: Any) -> None:
    program = await make_program(capacity=5)
    first = await _register(program["slug"], 1)
    same_email = person(2, email=person(1)["email"].upper())
    same_phone = person(3, phone="+62 " + person(1)["phone"][1:])
    for data in (same_email, same_phone):
        with pytest.raises(DomainError) as duplicate:
            await register_participant(program["slug"], data, base_url=BASE)
        assert duplicate.value.code == "duplicate_registration"
        assert duplicate.value.status_code == 409
        assert first.code not in duplicate.value.message
        assert first.code not in str(duplicate.value.as_json())
        assert duplicate.value.as_json()["my_tickets_url"] == "/my"
    assert await _counters(program["id"]) == (1, 0)
    # another program is fine, and so is the same person after cancelling
    other = await make_program()
    assert (await _register(other["slug"], 1)).status == "confirmed"
    await cancel_registration(first.code, base_url=BASE)
    assert (await _register(program["slug"], 1)).status == "confirmed"


async def test_duplicate_of_a_full_program_says_already_registered(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=0)
    await _register(program["slug"], 1)
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 1)
    assert refused.value.code == "duplicate_registration"


async def test_concurrent_duplicates_make_one_registration(engine: Any) -> None:
    program = await make_program(capacity=10)
    outcomes = await asyncio.gather(
        *(
            register_participant(program["slug"], person(1, full_name=f"Twin {i}"), base_url=BASE)
            for i in range(6)
        ),
        return_exceptions=True,
    )
    ok = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(ok) == 1 and len(refused) == 5
    assert {e.code for e in refused} == {"duplicate_registration"}
    assert await Registration.count().run() == 1
    assert await _counters(program["id"]) == (1, 0)


# --------------------------------------------------------------------------- idempotency


async def test_a_retry_with_the_same_key_answers_the_same_and_adds_nothing(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=3)
    await _register(program["slug"], 9)
    first = await _register(program["slug"], 1, idempotency_key="retry-1")
    again = await _register(program["slug"], 1, idempotency_key="retry-1")
    assert again == first and first.status == "waitlisted" and first.waitlist_position == 1
    assert await Registration.count().run() == 2
    assert await _counters(program["id"]) == (1, 1)
    assert await _kinds(first.code) == ["waitlisted"]


async def test_a_key_reused_for_someone_else_is_refused(engine: Any) -> None:
    program = await make_program()
    first = await _register(program["slug"], 1, idempotency_key="shared")
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 2, idempotency_key="shared")
    assert refused.value.code == "idempotency_key_reused" and refused.value.status_code == 422
    assert first.code not in str(refused.value.as_json())
    # keys belong to one program: the same key elsewhere is a new request
    other = await make_program()
    assert (await _register(other["slug"], 2, idempotency_key="shared")).status == "confirmed"


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 201, "ключ", "a\nb"])
async def test_malformed_keys_are_refused(engine: Any, key: str) -> None:
    program = await make_program()
    with pytest.raises(DomainError) as refused:
        await _register(program["slug"], 1, idempotency_key=key)
    assert refused.value.status_code == 422
    await _nothing_stored()


async def test_concurrent_requests_with_one_key_make_one_registration(engine: Any) -> None:
    program = await make_program(capacity=5)
    outcomes = await asyncio.gather(
        *(_register(program["slug"], 1, idempotency_key="tap-tap") for _ in range(5))
    )
    assert len({o.code for o in outcomes}) == 1
    assert await Registration.count().run() == 1
    assert await _counters(program["id"]) == (1, 0)


# --------------------------------------------------------------------------- concurrency


async def test_a_rush_never_oversells(engine: Any) -> None:
    program = await make_program(capacity=5, waitlist_limit=7)
    outcomes = await asyncio.gather(
        *(_register(program["slug"], n) for n in range(1, 21)),
        return_exceptions=True,
    )
    results = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, DomainError) and e.code == "full" for e in errors), errors
    assert sum(r.status == "confirmed" for r in results) == 5
    positions = sorted(r.waitlist_position for r in results if r.status == "waitlisted")
    assert positions == list(range(1, 8))
    assert await _counters(program["id"]) == (5, 7)


# --------------------------------------------------------------------------- reading


async def test_get_registration_answers_none_for_strangers_codes(engine: Any) -> None:
    assert await get_registration("does-not-exist-123") is None
    assert await get_registration(None) is None
    program = await make_program()
    result = await _register(program["slug"], 1)
    row = await get_registration(result.code)
    assert row is not None and row["program_slug"] == program["slug"]
    assert row["email"] == "budi1@example.id" and row["phone"] == "+6281230010001"


# --------------------------------------------------------------------------- my tickets


async def test_my_tickets_link_is_mailed_only_to_emails_with_tickets(engine: Any) -> None:
    program = await make_program()
    await _register(program["slug"], 1)
    await request_my_tickets_link("  BUDI1@example.id ", base_url=BASE)
    await request_my_tickets_link("nobody@example.id", base_url=BASE)
    messages = (
        await OutboxMessage.select(
            OutboxMessage.kind, OutboxMessage.to_email, OutboxMessage.context
        )
        .where(OutboxMessage.kind == "my_tickets")
        .output(load_json=True)
        .run()
    )
    assert [m["to_email"] for m in messages] == ["budi1@example.id"]
    link = messages[0]["context"]["link"]
    assert link.startswith(f"{BASE}/my/")
    token = link.rsplit("/", 1)[1]
    # the token is stored hashed only
    assert not await MyTicketsLink.exists().where(MyTicketsLink.token_hash == token).run()
    assert await consume_my_tickets_link(token) == "budi1@example.id"
    assert await consume_my_tickets_link(token) is None  # single use
    tickets = await tickets_for_email("budi1@example.id")
    assert [t["program_slug"] for t in tickets] == [program["slug"]]


async def test_my_tickets_link_expires_after_30_minutes(engine: Any) -> None:
    program = await make_program()
    await _register(program["slug"], 1)
    sent_at = datetime.now(UTC)
    await request_my_tickets_link("budi1@example.id", base_url=BASE, now=sent_at)
    message = (
        await OutboxMessage.select(OutboxMessage.context)
        .where(OutboxMessage.kind == "my_tickets")
        .first()
        .output(load_json=True)
        .run()
    )
    token = message["context"]["link"].rsplit("/", 1)[1]
    assert await consume_my_tickets_link(token, now=sent_at + timedelta(minutes=31)) is None
    assert await consume_my_tickets_link(token, now=sent_at + timedelta(minutes=29)) is not None


async def test_my_tickets_refuses_a_malformed_email(engine: Any) -> None:
    with pytest.raises(DomainError) as refused:
        await request_my_tickets_link("nope", base_url=BASE)
    assert refused.value.status_code == 422 and refused.value.errors[0].field == "email"


async def test_raising_capacity_promotes_the_waiting_list_in_order(engine: Any) -> None:
    from youth_hub.catalog.services import update_program

    organiser = await make_staff("organiser")
    program = await make_program(capacity=1, waitlist_limit=5, organiser=organiser)
    results = [await _register(program["slug"], n) for n in range(1, 5)]
    assert [r.status for r in results] == ["confirmed", "waitlisted", "waitlisted", "waitlisted"]
    await update_program(_user(organiser), program["slug"], {"capacity": 3})
    statuses = [(await get_registration(r.code))["status"] for r in results]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    assert await waitlist_position(await get_registration(results[3].code)) == 1
    promoted = await OutboxMessage.count().where(OutboxMessage.kind == "promoted").run()
    assert promoted == 2
    seats = (
        await Program.select(Program.seats_taken, Program.waitlist_taken)
        .where(Program.id == program["id"])
        .first()
        .run()
    )
    assert seats == {"seats_taken": 3, "waitlist_taken": 1}
