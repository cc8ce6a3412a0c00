"""Check-in rules without HTTP: every answer of the closed set, nonces, windows, undo."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.checkin.helpers import as_user, assign, door, sessions_of, ticket, within_window
from tests.factories import make_program, make_registration, make_staff
from youth_hub.catalog.tables import ProgramSession
from youth_hub.checkin import services
from youth_hub.checkin.services import perform_checkin
from youth_hub.checkin.tables import CheckIn, ScanLog
from youth_hub.settings import Settings
from youth_hub.tickets import sign_ticket
from youth_hub.web.errors import DomainError, ValidationFailed
from youth_hub.web.spreadsheet import neutralise_cell

START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 08.00 WIB
NOW = within_window(START)


async def scan(
    settings: Settings, setup: dict[str, Any], payload: str | None = None, **kwargs: Any
) -> services.CheckinAnswer:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("scanner", as_user(setup["scanner"]))
    return await perform_checkin(
        payload if payload is not None else ticket(settings, setup["registration"]),
        setup["program"]["slug"],
        data_dir=settings.data_dir,
        **kwargs,
    )


async def test_first_scan_is_ok_with_first_name_only(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    answer = await scan(settings, setup)
    body = answer.as_dict()
    assert body["result"] == "ok"
    assert body["first_name"] == "Siti"
    assert body["program"] == setup["program"]["slug"]
    assert body["session_id"] == (await sessions_of(setup["program"]))[0]["id"]
    assert body["checked_in_at"] == NOW.isoformat()
    assert set(body) == {"result", "first_name", "program", "session_id", "checked_in_at"}
    assert "Nurhaliza" not in json.dumps(body)
    assert await CheckIn.count().run() == 1
    log = await ScanLog.select().run()
    assert [r["result"] for r in log] == ["ok"]
    assert log[0]["ticket_id"] == setup["registration"]["id"]


async def test_second_scan_is_already_checked_in_with_the_first_time(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    await scan(settings, setup)
    again = await scan(settings, setup, now=NOW + timedelta(minutes=3))
    assert again.result == "already_checked_in"
    assert again.checked_in_at == NOW
    assert again.first_name == "Siti"
    assert await CheckIn.count().run() == 1
    assert await ScanLog.count().where(ScanLog.result == "already_checked_in").run() == 1


async def test_first_name_falls_back_to_first_word(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    setup["registration"] = await make_registration(
        setup["program"], full_name="  Bagus   Prasetyo ", first_name=""
    )
    assert (await scan(settings, setup)).first_name == "Bagus"


@pytest.mark.parametrize(
    "mangle", ["garbage", "flip", "truncate", "other_key", "prefix", "url", "emoji", "sql"]
)
async def test_forged_or_broken_codes_are_invalid_and_logged(
    engine: Any, settings: Settings, tmp_path: Path, mangle: str
) -> None:
    setup = await door(START)
    good = ticket(settings, setup["registration"])
    head, p, s = good.split(".")
    if mangle == "garbage":
        payload = "hello"
    elif mangle == "flip":
        raw = bytearray(base64.urlsafe_b64decode(s + "=="))
        raw[5] ^= 0x01
        payload = f"{head}.{p}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    elif mangle == "truncate":
        payload = good[:-7]
    elif mangle == "other_key":
        payload = sign_ticket(
            tmp_path / "elsewhere", setup["registration"]["id"], setup["program"]["id"]
        )
    elif mangle == "prefix":
        payload = "YH2." + good[4:]
    elif mangle == "url":
        payload = "https://example.com/?" + "a" * 500
    elif mangle == "emoji":
        payload = "🎫" * 50
    else:
        payload = "'; DROP TABLE checkin_checkin; --"
    answer = await scan(settings, setup, payload)
    assert answer.result == "invalid"
    assert answer.first_name is None and answer.checked_in_at is None
    log = await ScanLog.select().first().run()
    assert log["result"] == "invalid"
    assert log["payload_hash"] == services.payload_hash(payload.strip())
    assert await CheckIn.count().run() == 0


async def test_signed_ticket_without_registration_is_unknown(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    payload = sign_ticket(settings.data_dir, 987654, setup["program"]["id"])
    answer = await scan(settings, setup, payload)
    assert answer.result == "unknown"
    assert (await ScanLog.select().first().run())["ticket_id"] == 987654


async def test_signed_ids_beyond_the_columns_range_are_unknown(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    for huge in (2**31, 2**40, 2**63 - 1):
        payload = sign_ticket(settings.data_dir, huge, setup["program"]["id"])
        assert (await scan(settings, setup, payload)).result == "unknown"
    stranger = sign_ticket(settings.data_dir, setup["registration"]["id"], 2**50)
    assert (await scan(settings, setup, stranger)).result == "wrong_program"
    assert await ScanLog.count().run() == 4


@pytest.mark.parametrize(
    ("status", "result"), [("cancelled", "cancelled"), ("waitlisted", "waitlisted")]
)
async def test_cancelled_and_waitlisted_are_refused(
    engine: Any, settings: Settings, status: str, result: str
) -> None:
    setup = await door(START)
    setup["registration"] = await make_registration(
        setup["program"], status=status, full_name="Dewi Anggraini"
    )
    answer = await scan(settings, setup)
    assert answer.result == result
    assert answer.first_name == "Dewi"
    assert await CheckIn.count().run() == 0


async def test_ticket_of_another_program_is_wrong_program(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    other = await make_program(starts_at=START)
    stranger = await make_registration(other, full_name="Rina Wati")
    answer = await scan(settings, setup, ticket(settings, stranger))
    assert answer.result == "wrong_program"
    assert answer.first_name is None  # not a name this door may learn
    assert await CheckIn.count().run() == 0


async def test_unassigned_scanner_and_other_organiser_are_not_allowed(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    for role in ("scanner", "organiser"):
        outsider = as_user(await make_staff(role))
        answer = await scan(settings, setup, scanner=outsider)
        assert answer.result == "not_allowed"
        assert answer.first_name is None
    assert await CheckIn.count().run() == 0
    assert await ScanLog.count().where(ScanLog.result == "not_allowed").run() == 2


@pytest.mark.parametrize("who", ["organiser", "dinporapar", "admin", "assigned_organiser"])
async def test_owner_office_and_assigned_staff_may_scan(
    engine: Any, settings: Settings, who: str
) -> None:
    setup = await door(START)
    if who == "organiser":
        user = setup["organiser"]
    elif who == "assigned_organiser":
        user = await make_staff("organiser")
        await assign(setup["program"], user)
    else:
        user = await make_staff(who)
    assert (await scan(settings, setup, scanner=as_user(user))).result == "ok"


async def test_window_opens_before_start_and_closes_at_the_end(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    too_early = START - timedelta(minutes=121)
    assert (await scan(settings, setup, now=too_early)).result == "outside_window"
    assert (await scan(settings, setup, now=START - timedelta(minutes=119))).result == "ok"

    later = await door(START)
    after_end = START + timedelta(hours=3, seconds=1)
    answer = await scan(settings, later, now=after_end)
    assert answer.result == "outside_window"
    assert answer.session_id is None
    assert await CheckIn.count().run() == 1


async def test_window_follows_the_programs_setting(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    from youth_hub.catalog.tables import Program

    await (
        Program.update({Program.checkin_opens_minutes_before: 30})
        .where(Program.id == setup["program"]["id"])
        .run()
    )
    assert (await scan(settings, setup, now=START - timedelta(minutes=45))).result == (
        "outside_window"
    )
    assert (await scan(settings, setup, now=START - timedelta(minutes=25))).result == "ok"


async def test_sessions_that_are_not_checkin_points_do_not_count(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START, checkin=False)
    assert (await scan(settings, setup)).result == "outside_window"
    session = (await sessions_of(setup["program"]))[0]
    with pytest.raises(ValidationFailed) as caught:
        await scan(settings, setup, session_id=session["id"])
    assert caught.value.errors[0].field == "session_id"


async def test_explicit_session_is_used_and_must_belong_to_the_program(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START, sessions=2)
    second = (await sessions_of(setup["program"]))[1]
    # The second session is a week later; a scanner choosing it admits to it now.
    answer = await scan(settings, setup, session_id=second["id"])
    assert answer.result == "ok" and answer.session_id == second["id"]
    other = await make_program(starts_at=START)
    foreign = (await sessions_of(other))[0]
    with pytest.raises(ValidationFailed):
        await scan(settings, setup, session_id=foreign["id"])
    for bad in ("abc", -1, 0, True, 2**40, 1.5):
        with pytest.raises(ValidationFailed) as caught:
            await scan(settings, setup, session_id=bad)
        assert caught.value.errors[0].field == "session_id"


async def test_overlapping_tour_stops_pick_the_one_under_way(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START, kind="tour")
    first = (await sessions_of(setup["program"]))[0]
    # A second stop right after the first: its window opens while the first is under way.
    await (
        ProgramSession(
            program=setup["program"]["id"],
            position=1,
            title="Stop 2",
            starts_at=START + timedelta(hours=3, minutes=30),
            ends_at=START + timedelta(hours=5),
            checkin=True,
            day=1,
        )
        .save()
        .run()
    )
    answer = await scan(settings, setup, now=START + timedelta(hours=2))
    assert answer.session_id == first["id"]
    later = await scan(settings, setup, now=START + timedelta(hours=3, minutes=10))
    assert later.result == "ok" and later.session_id != first["id"]


async def test_retry_with_the_same_nonce_returns_the_first_answer(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    first = await scan(settings, setup, nonce="n-1")
    retry = await scan(settings, setup, nonce="n-1", now=NOW + timedelta(minutes=1))
    assert first == retry
    assert retry.result == "ok"
    assert await ScanLog.count().run() == 1
    assert await CheckIn.count().run() == 1
    # A new nonce is a new scan.
    assert (await scan(settings, setup, nonce="n-2")).result == "already_checked_in"
    # The same nonce from another scanner is that scanner's own.
    other = await make_staff("scanner")
    await assign(setup["program"], other)
    assert (await scan(settings, setup, nonce="n-1", scanner=as_user(other))).result == (
        "already_checked_in"
    )


async def test_refusals_are_replayed_by_nonce_too(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    first = await scan(settings, setup, "junk", nonce="x1")
    again = await scan(settings, setup, nonce="x1")  # now with a good ticket: still the first
    assert first.result == again.result == "invalid"
    assert await CheckIn.count().run() == 0


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("payload", {"payload": ""}),
        ("payload", {"payload": "   "}),
        ("payload", {"payload": "x" * 5000}),
        ("nonce", {"nonce": "has space"}),
        ("nonce", {"nonce": "n" * 81}),
        ("device_id", {"device_id": "<script>" + "d" * 80}),
        ("program", {"program": ""}),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    engine: Any, settings: Settings, field: str, kwargs: dict[str, Any]
) -> None:
    setup = await door(START)
    kwargs = dict(kwargs)  # the parameters are shared by the SQLite and PostgreSQL runs
    payload = kwargs.pop("payload", ticket(settings, setup["registration"]))
    program = kwargs.pop("program", setup["program"]["slug"])
    with pytest.raises(ValidationFailed) as caught:
        await perform_checkin(
            payload,
            program,
            scanner=as_user(setup["scanner"]),
            data_dir=settings.data_dir,
            now=NOW,
            **kwargs,
        )
    assert caught.value.errors[0].field == field
    assert caught.value.errors[0].message
    assert await ScanLog.count().run() == 0
    assert await CheckIn.count().run() == 0


async def test_unknown_program_is_404(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    with pytest.raises(DomainError) as caught:
        await perform_checkin(
            ticket(settings, setup["registration"]),
            "no-such-program",
            scanner=as_user(setup["scanner"]),
            data_dir=settings.data_dir,
        )
    assert caught.value.status_code == 404


async def test_undo_within_15_minutes_by_the_same_scanner(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    await scan(settings, setup)
    checkin = await CheckIn.select().first().run()
    other = await make_staff("scanner")
    await assign(setup["program"], other)
    with pytest.raises(DomainError) as caught:
        await services.undo_checkin(checkin["id"], user=as_user(other), now=NOW)
    assert caught.value.status_code == 403
    await services.undo_checkin(
        checkin["id"], user=as_user(setup["scanner"]), now=NOW + timedelta(minutes=14)
    )
    assert await CheckIn.count().run() == 0
    undone = await ScanLog.select().where(ScanLog.result == "undone").first().run()
    assert undone["ticket_id"] == setup["registration"]["id"]
    assert undone["scanner"] == setup["scanner"]["id"]
    # Admitted again afterwards: a fresh ok.
    assert (await scan(settings, setup, now=NOW + timedelta(minutes=15))).result == "ok"


async def test_undo_after_15_minutes_is_refused_even_for_the_organiser(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    await scan(settings, setup)
    checkin = await CheckIn.select().first().run()
    with pytest.raises(DomainError) as caught:
        await services.undo_checkin(
            checkin["id"], user=as_user(setup["organiser"]), now=NOW + timedelta(minutes=16)
        )
    assert caught.value.code == "undo_expired"
    assert await CheckIn.count().run() == 1
    await services.undo_checkin(
        checkin["id"], user=as_user(setup["organiser"]), now=NOW + timedelta(minutes=5)
    )
    assert await CheckIn.count().run() == 0
    with pytest.raises(DomainError) as again:
        await services.undo_checkin(checkin["id"], user=as_user(setup["organiser"]), now=NOW)
    assert again.value.status_code == 404


async def test_name_search_shows_scanners_only_first_name_and_initial(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    await make_registration(setup["program"], full_name="Siti Aminah", status="cancelled")
    await make_registration(setup["program"], full_name="Budi Santoso")
    program = await services.program_by_slug(setup["program"]["slug"])
    found = await services.search_registrations(program, "siti", user=as_user(setup["scanner"]))
    labels = sorted(r["label"] for r in found)
    assert labels == ["Siti A.", "Siti R."]
    assert all(r["detail"] == "" for r in found)
    full = await services.search_registrations(program, "SITI", user=as_user(setup["organiser"]))
    assert sorted(r["label"] for r in full) == ["Siti Aminah", "Siti Nurhaliza Rahma"]
    for short in ("", "si", "  s "):
        with pytest.raises(ValidationFailed) as caught:
            await services.search_registrations(program, short, user=as_user(setup["scanner"]))
        assert caught.value.errors[0].field == "q"
    # Wildcards typed by the user match literally, not everything.
    assert await services.search_registrations(program, "%%%", user=as_user(setup["scanner"])) == []


async def test_manual_checkin_follows_the_same_rules(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    user = as_user(setup["scanner"])
    slug = setup["program"]["slug"]
    answer = await services.perform_manual_checkin(
        setup["registration"]["id"], slug, scanner=user, now=NOW
    )
    assert answer.result == "ok" and answer.first_name == "Siti"
    assert (await CheckIn.select().first().run())["source"] == "manual"
    again = await services.perform_manual_checkin(
        setup["registration"]["id"], slug, scanner=user, now=NOW
    )
    assert again.result == "already_checked_in"
    other = await make_program(starts_at=START)
    stranger = await make_registration(other)
    assert (
        await services.perform_manual_checkin(stranger["id"], slug, scanner=user, now=NOW)
    ).result == "unknown"
    with pytest.raises(ValidationFailed):
        await services.perform_manual_checkin("x", slug, scanner=user, now=NOW)


def test_csv_cells_never_start_a_formula() -> None:
    for evil in ('=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\t=1"):
        assert neutralise_cell(evil).startswith("'")
    assert neutralise_cell("Siti") == "Siti"
    assert neutralise_cell(None) == ""
