"""Removing a session or itinerary stop that already has check-ins is refused (the delete would
cascade to the attendance history); sessions without check-ins are removed as before. Service,
JSON API and staff form, on both databases, and the race with a check-in being written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.accounts.helpers import csrf_from, sign_in
from tests.catalog.helpers import as_current, staff_with_token
from tests.factories import make_program, make_registration, make_staff
from youth_hub.catalog import services
from youth_hub.catalog.forms import form_from_detail
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.checkin.tables import CheckIn
from youth_hub.settings import Settings
from youth_hub.web.errors import ValidationFailed

ID_REFUSAL = "sudah ada check-in untuk"  # the Indonesian message, as a person reads it
EN_REFUSAL = "check-ins are already recorded for"


async def sessions_of(program: dict[str, Any]) -> list[dict[str, Any]]:
    return list(
        await ProgramSession.select()
        .where(ProgramSession.program == program["id"])
        .order_by(ProgramSession.position)
        .run()
    )


async def check_in(program: dict[str, Any], session: dict[str, Any]) -> int:
    """A check-in row of a fresh registrant at `session` (the rules are checkin's own tests)."""
    registration = await make_registration(program)
    now = datetime.now(UTC)
    row = CheckIn(
        registration=registration["id"],
        session=session["id"],
        program=program["id"],
        checked_in_at=now,
        scanned_at=now,
    )
    await row.save().run()
    return int(row.id)


def as_body(session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A session as the services and the API take it (its id keeps the row)."""
    return {
        "id": session["id"],
        "title": session["title"],
        "starts_at": session["starts_at"].isoformat(),
        "ends_at": session["ends_at"].isoformat(),
        "location": session["location"],
        "day": session["day"],
        "checkin": session["checkin"],
        **changes,
    }


async def two_sessions(kind: str = "workshop") -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    organiser = await make_staff("organiser")
    program = await make_program(kind=kind, organiser=organiser, sessions=2)
    return organiser, program, await sessions_of(program)


@pytest.mark.parametrize("kind", ["workshop", "tour"])
async def test_removing_a_session_with_check_ins_is_refused_and_nothing_changes(
    engine: Any, kind: str
) -> None:
    organiser, program, (first, second) = await two_sessions(kind)
    checkin_id = await check_in(program, first)
    with pytest.raises(ValidationFailed) as refused:
        await services.update_program(
            as_current(organiser),
            program["slug"],
            {"title": "Judul Baru", "sessions": [as_body(second, title="Sesi Diganti")]},
        )
    errors = refused.value.errors
    assert [e.field for e in errors] == ["sessions"]
    assert refused.value.status_code == 422
    message = errors[0].message
    assert message.startswith("Sesi: ") and ID_REFUSAL in message, message
    assert f"“{first['title']}”" in message and second["title"] not in message
    # The whole update is refused: the program, both sessions and the check-in as they were.
    assert await sessions_of(program) == [first, second]
    assert await CheckIn.exists().where(CheckIn.id == checkin_id).run()
    row = await Program.select(Program.title).where(Program.id == program["id"]).first().run()
    assert row is not None and row["title"] == program["title"]


async def test_removing_sessions_without_check_ins_still_works(engine: Any) -> None:
    organiser, program, (first, second) = await two_sessions()
    checkin_id = await check_in(program, first)
    changed = await services.update_program(
        as_current(organiser), program["slug"], {"sessions": [as_body(first, title="Tetap")]}
    )
    assert changed["slug"] == program["slug"]
    after = await sessions_of(program)
    assert [(s["id"], s["title"]) for s in after] == [(first["id"], "Tetap")]
    assert not await ProgramSession.exists().where(ProgramSession.id == second["id"]).run()
    assert await CheckIn.exists().where(CheckIn.id == checkin_id).run()
    # A check-in of another program's session changes nothing here.
    other_organiser, other, (lone, spare) = await two_sessions()
    await check_in(other, lone)
    await services.update_program(
        as_current(other_organiser), other["slug"], {"sessions": [as_body(lone)]}
    )
    assert [s["id"] for s in await sessions_of(other)] == [lone["id"]]
    assert spare["id"] not in {s["id"] for s in await ProgramSession.select().run()}


async def test_api_answers_422_naming_the_field_and_changes_nothing(client: Any) -> None:
    organiser, auth = await staff_with_token("organiser")
    program = await make_program(organiser=organiser, sessions=2)
    first, second = await sessions_of(program)
    checkin_id = await check_in(program, first)
    path = f"/api/v1/programs/{program['slug']}"
    response = await client.patch(path, headers=auth, json={"sessions": [as_body(second)]})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid"
    assert [e["field"] for e in body["errors"]] == ["sessions"]
    assert (
        ID_REFUSAL in body["errors"][0]["message"]
        and body["detail"] == body["errors"][0]["message"]
    )
    assert await sessions_of(program) == [first, second]
    assert await CheckIn.exists().where(CheckIn.id == checkin_id).run()

    english = await client.patch(
        path, params={"lang": "en"}, headers=auth, json={"sessions": [as_body(second)]}
    )
    assert english.status_code == 422
    assert english.json()["errors"][0]["message"].startswith(f"Sessions: {EN_REFUSAL}")

    # Keeping the session with check-ins and dropping the other one is fine.
    kept = await client.patch(path, headers=auth, json={"sessions": [as_body(first)]})
    assert kept.status_code == 200, kept.text
    assert [s["id"] for s in await sessions_of(program)] == [first["id"]]


def form_post(token: str, detail: dict[str, Any], drop: int) -> dict[str, str]:
    """The staff form as the edit page fills it, with session row `drop` taken out."""
    form = form_from_detail(detail)
    data = {"_csrf_token": token, "action": "save", **form.values}
    rows = [row for index, row in enumerate(form.rows) if index != drop]
    for index, row in enumerate(rows):
        for name, value in row.items():
            if name == "checkin":
                if value:
                    data[f"sessions-{index}-checkin"] = "1"
            else:
                data[f"sessions-{index}-{name}"] = str(value)
    return data


async def test_staff_form_shows_the_refusal_next_to_the_sessions(client: Any) -> None:
    organiser = await make_staff("organiser")
    await sign_in(client, organiser["email"])
    program = await make_program(organiser=organiser, sessions=2)
    first, second = await sessions_of(program)
    checkin_id = await check_in(program, first)
    path = f"/manage/programs/{program['slug']}/edit"
    token = csrf_from((await client.get(path)).text)
    detail = await services.get_program_detail(program["slug"], as_current(organiser))
    assert detail is not None

    response = await client.post(path, data=form_post(token, detail, drop=0))
    assert response.status_code == 422
    assert 'id="sessions-error"' in response.text
    assert ID_REFUSAL in response.text and first["title"] in response.text
    assert await sessions_of(program) == [first, second]
    assert await CheckIn.exists().where(CheckIn.id == checkin_id).run()

    response = await client.post(path, data=form_post(token, detail, drop=1))
    assert response.status_code == 303
    assert [s["id"] for s in await sessions_of(program)] == [first["id"]]


@pytest.mark.only_backend("postgres")
async def test_a_check_in_being_written_is_waited_for_not_lost(
    engine: Any, settings: Settings
) -> None:
    """PostgreSQL: a check-in inserted but not yet committed when the organiser saves. Without
    the row lock the check misses it and the delete then cascades to it once it commits.
    (SQLite's BEGIN IMMEDIATE lets one writer at a time in; nothing to race.)"""
    organiser, program, (first, second) = await two_sessions()
    registration = await make_registration(program)
    scanner = await asyncpg.connect(settings.database_url)
    watcher = await asyncpg.connect(settings.database_url)
    try:
        transaction = scanner.transaction()
        await transaction.start()
        now = datetime.now(UTC)
        await scanner.execute(
            "INSERT INTO checkin_checkin (registration, session, program, checked_in_at, "
            "scanned_at, recorded_at, device_id, source) "
            "VALUES ($1, $2, $3, $4, $4, $4, '', 'scan')",
            registration["id"],
            first["id"],
            program["id"],
            now,
        )
        update = asyncio.create_task(
            services.update_program(
                as_current(organiser), program["slug"], {"sessions": [as_body(second)]}
            )
        )
        # Wait (by looking, not by sleeping a fixed time) until the save blocks on that row.
        for _ in range(2000):
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting or update.done():
                break
            await asyncio.sleep(0.005)
        assert not update.done(), "the save did not wait for the uncommitted check-in"
        await transaction.commit()
        with pytest.raises(ValidationFailed) as refused:
            await update
        assert ID_REFUSAL in refused.value.errors[0].message
    finally:
        await scanner.close()
        await watcher.close()
    assert await sessions_of(program) == [first, second]
    assert await CheckIn.count().where(CheckIn.session == first["id"]).run() == 1
