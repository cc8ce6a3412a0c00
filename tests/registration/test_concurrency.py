"""The last seats wanted by many at once, against a real server (uvicorn in its own process),
on SQLite and on PostgreSQL: never oversold, a gap-free waiting list, no server errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.factories import make_program
from tests.registration.helpers import person
from tests.support.live import live_server
from youth_hub.catalog.tables import Program
from youth_hub.registration.tables import Registration

CLIENTS = 60
SEATS = 10
WAITLIST = 30


async def _rush(
    base_url: str,
    slug: str,
    bodies: list[dict[str, Any]],
    headers: list[dict[str, str]] | None = None,
) -> list[httpx.Response]:
    """Every request prepared, then released at the same instant."""
    go = asyncio.Event()
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one(i: int) -> httpx.Response:
            await go.wait()
            return await client.post(
                f"/api/v1/programs/{slug}/registrations",
                json=bodies[i],
                headers=(headers or [{}] * len(bodies))[i],
            )

        tasks = [asyncio.create_task(one(i)) for i in range(len(bodies))]
        await asyncio.sleep(0.05)
        go.set()
        return list(await asyncio.gather(*tasks))


async def _state(program_id: int) -> dict[str, Any]:
    rows = (
        await Registration.select(Registration.status, Registration.waitlist_seq)
        .where(Registration.program == program_id)
        .run()
    )
    counters = (
        await Program.select(Program.seats_taken, Program.waitlist_taken)
        .where(Program.id == program_id)
        .first()
        .run()
    )
    return {"rows": rows, **counters}


def _check_rush(responses: list[httpx.Response], state: dict[str, Any]) -> None:
    statuses = [r.status_code for r in responses]
    assert not [s for s in statuses if s >= 500], statuses
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json() for r in responses if r.status_code == 409]
    assert len(created) + len(refused) == CLIENTS, statuses
    assert sum(c["status"] == "confirmed" for c in created) == SEATS
    positions = sorted(c["waitlist_position"] for c in created if c["status"] == "waitlisted")
    assert positions == list(range(1, WAITLIST + 1))
    assert {r["code"] for r in refused} == {"full"}
    assert len(refused) == CLIENTS - SEATS - WAITLIST
    stored = [r["status"] for r in state["rows"]]
    assert stored.count("confirmed") == SEATS and stored.count("waitlisted") == WAITLIST
    assert (state["seats_taken"], state["waitlist_taken"]) == (SEATS, WAITLIST)
    seqs = sorted(r["waitlist_seq"] for r in state["rows"] if r["status"] == "waitlisted")
    assert len(set(seqs)) == WAITLIST


def test_rush_for_the_last_seats_never_oversells(live: Any, seed: Any) -> None:
    program = seed(make_program, capacity=SEATS, waitlist_limit=WAITLIST)
    bodies = [person(n) for n in range(1, CLIENTS + 1)]
    responses = asyncio.run(_rush(live.url, program["slug"], bodies))
    _check_rush(responses, seed(_state, program["id"]))


def test_rush_with_two_workers_never_oversells(settings: Any, seed: Any) -> None:
    program = seed(make_program, capacity=SEATS, waitlist_limit=WAITLIST)
    bodies = [person(n) for n in range(1, CLIENTS + 1)]
    with live_server(settings.database_url, settings.data_dir, workers=2) as server:
        responses = asyncio.run(_rush(server.url, program["slug"], bodies))
    _check_rush(responses, seed(_state, program["id"]))


def test_simultaneous_retries_with_one_key_make_one_registration(live: Any, seed: Any) -> None:
    program = seed(make_program, capacity=SEATS)
    bodies = [person(1)] * 8
    headers = [{"Idempotency-Key": "double-tap-7c1e"}] * 8
    responses = asyncio.run(_rush(live.url, program["slug"], bodies, headers))
    assert [r.status_code for r in responses] == [201] * 8
    assert len({r.json()["code"] for r in responses}) == 1
    state = seed(_state, program["id"])
    assert len(state["rows"]) == 1 and state["seats_taken"] == 1


def test_simultaneous_duplicates_make_one_registration(live: Any, seed: Any) -> None:
    program = seed(make_program, capacity=SEATS)
    bodies = [person(1, full_name=f"Kembar {i}", phone=f"0813 9999 {i:04d}") for i in range(8)]
    responses = asyncio.run(_rush(live.url, program["slug"], bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "duplicate_registration"
    }
    state = seed(_state, program["id"])
    assert len(state["rows"]) == 1 and state["seats_taken"] == 1
