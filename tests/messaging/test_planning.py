"""Planning rules with an injected clock: offsets, a program's own offsets, offsets already
passed, cancelled seats, late promotion, moved and cancelled programs, the daily digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_program, make_staff
from tests.messaging.support import MailServer, add_registration, text_part
from tests.support.clock import FrozenClock
from youth_hub.accounts import CurrentUser, Role
from youth_hub.catalog.signals import emit_program_cancelled, emit_program_changed
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.i18n import language
from youth_hub.messaging import drop_reminders
from youth_hub.messaging.planning import (
    plan_digests,
    plan_due_reminders,
    reminder_offsets,
    reminder_plan,
)
from youth_hub.messaging.services import send_due_messages
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.registration.tables import Registration
from youth_hub.settings import Settings
from youth_hub.web.formats import format_datetime


async def _outbox(**where: Any) -> list[dict[str, Any]]:
    query = OutboxMessage.select().order_by(OutboxMessage.id).output(load_json=True)
    for column, value in where.items():
        query = query.where(getattr(OutboxMessage, column) == value)
    rows: list[dict[str, Any]] = await query.run()
    return rows


async def _reminders(code: str) -> dict[int, dict[str, Any]]:
    rows = await _outbox(kind="reminder", ticket_code=code)
    return {row["context"]["offset"]: row for row in rows}


async def _move(program: dict[str, Any], starts_at: datetime) -> None:
    await (
        Program.update({Program.first_starts_at: starts_at})
        .where(Program.id == program["id"])
        .run()
    )
    await (
        ProgramSession.update(
            {
                ProgramSession.starts_at: starts_at,
                ProgramSession.ends_at: starts_at + timedelta(hours=3),
            }
        )
        .where(ProgramSession.program == program["id"])
        .run()
    )


def test_plan_rules_without_a_database() -> None:
    start = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
    offsets = (1440, 120)
    # all in the future: each at its time
    assert reminder_plan(start, offsets, start - timedelta(days=3)) == [
        (1440, start - timedelta(minutes=1440)),
        (120, start - timedelta(minutes=120)),
    ]
    # the day-before one passed: it goes at once, the two-hour one at its time
    now = start - timedelta(hours=5)
    assert reminder_plan(start, offsets, now) == [(1440, now), (120, start - timedelta(hours=2))]
    # both passed: only the latest (two hours) goes, at once
    now = start - timedelta(minutes=30)
    assert reminder_plan(start, offsets, now) == [(1440, None), (120, now)]
    # begun: none
    assert reminder_plan(start, offsets, start) == [(1440, None), (120, None)]


def test_program_offsets_override_the_settings(settings: Settings) -> None:
    assert reminder_offsets("", settings) == (1440, 120)
    assert reminder_offsets("60, 2880", settings) == (2880, 60)
    assert reminder_offsets("soon,-5,0", settings) == (1440, 120)  # nothing usable: the default
    assert reminder_offsets("999999999", settings) == (1440, 120)


async def test_confirmed_seats_get_reminders_at_the_offsets_once(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    start = clock() + timedelta(days=3)
    program = await make_program(starts_at=start)
    confirmed = await add_registration(program)
    waitlisted = await add_registration(program, status="waitlisted", waitlist_seq=1)
    cancelled = await add_registration(program, status="cancelled")
    assert await plan_due_reminders(settings, clock()) == 2
    assert await plan_due_reminders(settings, clock()) == 0  # planning twice plans once
    rows = await _reminders(confirmed["code"])
    assert {o: r["due_at"] for o, r in rows.items()} == {
        1440: start - timedelta(days=1),
        120: start - timedelta(hours=2),
    }
    assert all(r["state"] == "pending" for r in rows.values())
    assert rows[1440]["dedupe_key"] == f"reminder:{confirmed['id']}:1440"
    assert await _reminders(waitlisted["code"]) == {}
    assert await _reminders(cancelled["code"]) == {}
    assert len(await _outbox(kind="reminder")) == 2


async def test_program_offsets_column_overrides(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    start = clock() + timedelta(days=5)
    program = await make_program(starts_at=start)
    await (
        Program.update({Program.reminder_offsets: "2880,30"})
        .where(Program.id == program["id"])
        .run()
    )
    registration = await add_registration(program)
    await plan_due_reminders(settings, clock())
    rows = await _reminders(registration["code"])
    assert sorted(rows) == [30, 2880]
    assert rows[30]["due_at"] == start - timedelta(minutes=30)


async def test_passed_offsets_only_the_latest_goes_at_once(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    soon = await make_program(starts_at=clock() + timedelta(minutes=90))
    late = await add_registration(soon)
    begun = await make_program(starts_at=clock() - timedelta(minutes=10))
    too_late = await add_registration(begun)
    await plan_due_reminders(settings, clock())
    rows = await _reminders(late["code"])
    assert rows[120]["state"] == "pending" and rows[120]["due_at"] == clock()
    assert rows[1440]["state"] == "dropped" and "passed" in rows[1440]["last_error"]
    assert await _reminders(too_late["code"]) == {}  # none after the start


async def test_cancelled_seat_drops_its_pending_reminders(
    engine: Any, mail_settings: Settings, smtp: MailServer, clock: FrozenClock
) -> None:
    program = await make_program(starts_at=clock() + timedelta(days=3))
    swept = await add_registration(program)
    direct = await add_registration(program)
    at_send_time = await add_registration(program)
    await plan_due_reminders(mail_settings, clock())
    # the planning sweep notices the cancelled seat...
    await (
        Registration.update({Registration.status: "cancelled"})
        .where(Registration.id == swept["id"])
        .run()
    )
    await plan_due_reminders(mail_settings, clock())
    assert {r["state"] for r in (await _reminders(swept["code"])).values()} == {"dropped"}
    # ...registration may also drop them itself, in its cancel transaction
    await drop_reminders(direct["code"])
    assert {r["state"] for r in (await _reminders(direct["code"])).values()} == {"dropped"}
    # and a reminder that falls due for a seat cancelled a moment ago is dropped, not sent
    await (
        Registration.update({Registration.status: "cancelled"})
        .where(Registration.id == at_send_time["id"])
        .run()
    )
    report = await send_due_messages(mail_settings, now=clock() + timedelta(days=2, hours=23))
    assert smtp.messages == [] and report.dropped == 2
    assert {r["state"] for r in (await _reminders(at_send_time["code"])).values()} == {"dropped"}


async def test_promoted_late_gets_one_reminder_at_once(
    engine: Any, mail_settings: Settings, smtp: MailServer, clock: FrozenClock
) -> None:
    program = await make_program(starts_at=clock() + timedelta(minutes=90))
    registration = await add_registration(program, status="waitlisted", waitlist_seq=1)
    await plan_due_reminders(mail_settings, clock())
    assert await _reminders(registration["code"]) == {}
    await (
        Registration.update({Registration.status: "confirmed"})
        .where(Registration.id == registration["id"])
        .run()
    )
    await plan_due_reminders(mail_settings, clock())
    report = await send_due_messages(mail_settings, now=clock())
    assert report.sent == 1
    assert smtp.kinds() == {"reminder": 1}
    assert smtp.messages[0]["X-Youth-Hub-Ticket"] == registration["code"]


async def test_moved_program_replans_and_tells_registrants(
    engine: Any, mail_settings: Settings, smtp: MailServer, now: datetime
) -> None:
    # The signal carries no clock: the listeners plan against the real time (`now`).
    start = now + timedelta(days=3)
    program = await make_program(starts_at=start)
    confirmed = await add_registration(program)
    waiting = await add_registration(program, status="waitlisted", waitlist_seq=1)
    gone = await add_registration(program, status="cancelled")
    await plan_due_reminders(mail_settings, now)
    new_start = start + timedelta(days=7)
    await _move(program, new_start)
    await emit_program_changed(program["id"], {"times": True, "place": False})
    rows = await _reminders(confirmed["code"])
    assert {o: (r["state"], r["due_at"]) for o, r in rows.items()} == {
        1440: ("pending", new_start - timedelta(days=1)),
        120: ("pending", new_start - timedelta(hours=2)),
    }
    notices = await _outbox(kind="changed")
    assert sorted(n["ticket_code"] for n in notices) == sorted([confirmed["code"], waiting["code"]])
    assert gone["code"] not in {n["ticket_code"] for n in notices}
    report = await send_due_messages(mail_settings, now=datetime.now(UTC))
    assert report.sent == 2 and smtp.kinds() == {"changed": 2}
    with language("id"):
        shown = format_datetime(new_start)  # the new date, in WIB
    assert shown.endswith(" WIB") and shown in text_part(smtp.messages[0])


async def test_moved_closer_sends_the_latest_passed_reminder_and_revives_later(
    engine: Any, settings: Settings
) -> None:
    # The signal carries no clock: the listeners plan against the real time.
    before = datetime.now(UTC)
    program = await make_program(starts_at=before + timedelta(days=3))
    registration = await add_registration(program)
    await plan_due_reminders(settings, before)
    # moved to 90 minutes from now: the two-hour reminder goes at once, the day-before is dropped
    await _move(program, before + timedelta(minutes=90))
    await emit_program_changed(program["id"], {"times": True, "place": False})
    after = datetime.now(UTC)
    rows = await _reminders(registration["code"])
    assert rows[120]["state"] == "pending" and before <= rows[120]["due_at"] <= after
    assert rows[1440]["state"] == "dropped"
    # moved back far away: both reminders are planned again
    far = (before + timedelta(days=10)).replace(microsecond=0)
    await _move(program, far)
    await emit_program_changed(program["id"], {"times": True, "place": False})
    rows = await _reminders(registration["code"])
    assert {o: (r["state"], r["due_at"]) for o, r in rows.items()} == {
        1440: ("pending", far - timedelta(days=1)),
        120: ("pending", far - timedelta(hours=2)),
    }


async def test_place_change_notifies_without_touching_reminders(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    start = clock() + timedelta(days=3)
    program = await make_program(starts_at=start)
    registration = await add_registration(program)
    await plan_due_reminders(settings, clock())
    before = await _reminders(registration["code"])
    await emit_program_changed(program["id"], {"times": False, "place": True})
    await emit_program_changed(program["id"], {"times": False, "place": True})
    assert await _reminders(registration["code"]) == before
    notices = await _outbox(kind="changed")
    # the second notice replaces the first, which has not gone out yet
    assert [n["state"] for n in notices] == ["dropped", "pending"]
    await emit_program_changed(program["id"], {"times": False, "place": False})
    assert len(await _outbox(kind="changed")) == 2  # nothing moved: nothing said


async def test_cancelled_program_drops_reminders_and_tells_registrants_once(
    engine: Any, mail_settings: Settings, smtp: MailServer, now: datetime
) -> None:
    program = await make_program(starts_at=now + timedelta(days=3))
    confirmed = await add_registration(program)
    waiting = await add_registration(program, status="waitlisted", waitlist_seq=1)
    await add_registration(program, status="cancelled")
    await plan_due_reminders(mail_settings, now)
    await Program.update({Program.status: "cancelled"}).where(Program.id == program["id"]).run()
    await emit_program_cancelled(program["id"])
    await emit_program_cancelled(program["id"])  # told once, however often it is said
    assert {r["state"] for r in (await _reminders(confirmed["code"])).values()} == {"dropped"}
    notices = await _outbox(kind="program_cancelled")
    assert sorted(n["ticket_code"] for n in notices) == sorted([confirmed["code"], waiting["code"]])
    await send_due_messages(mail_settings, now=datetime.now(UTC) + timedelta(days=2, hours=23))
    assert smtp.kinds() == {"program_cancelled": 2}


async def test_catalog_services_emit_the_signals(
    engine: Any, settings: Settings, clock: FrozenClock
) -> None:
    from youth_hub.catalog import services as catalog

    admin_row = await make_staff("admin")
    admin = CurrentUser(id=admin_row["id"], email=admin_row["email"], name="", role=Role.ADMIN)
    program = await make_program(starts_at=datetime.now(UTC) + timedelta(days=3))
    registration = await add_registration(program)
    await catalog.update_program(admin, program["slug"], {"venue": "GOR Goentoer Darjono"})
    assert [n["ticket_code"] for n in await _outbox(kind="changed")] == [registration["code"]]
    await catalog.cancel_program(admin, program["slug"])
    assert [n["ticket_code"] for n in await _outbox(kind="program_cancelled")] == [
        registration["code"]
    ]


async def test_daily_digest_to_each_organiser_once(
    engine: Any, mail_settings: Settings, smtp: MailServer
) -> None:
    # 2026-12-02 08:00 WIB: the digest covers 1 December (WIB).
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    yesterday = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    busy = await make_staff("organiser")
    quiet = await make_staff("organiser")
    program = await make_program(organiser=busy, title="Kelas Kepemimpinan")
    await make_program(organiser=quiet)
    await add_registration(program, full_name="Ayu <b>Lestari</b>", created_at=yesterday)
    await add_registration(program, status="waitlisted", waitlist_seq=1, created_at=yesterday)
    await add_registration(program, created_at=now - timedelta(days=3))  # not yesterday
    assert await plan_digests(mail_settings, now - timedelta(hours=2)) == 0  # 06:00 WIB: not yet
    assert await plan_digests(mail_settings, now) == 1
    assert await plan_digests(mail_settings, now + timedelta(hours=5)) == 0  # once a day
    rows = await _outbox(kind="digest")
    assert [(r["to_email"], r["dedupe_key"]) for r in rows] == [
        (busy["email"], f"digest:{busy['id']}:2026-12-01")
    ]
    await send_due_messages(mail_settings, now=now)
    text = text_part(smtp.messages[0])
    assert "Kelas Kepemimpinan" in text and "Ayu <b>Lestari</b>" in text
    assert "2 baru (terkonfirmasi 1, daftar tunggu 1)" in text


async def test_the_tick_plans_reminders_and_the_digest_once_a_day(
    engine: Any, settings: Settings
) -> None:
    from datetime import date

    from youth_hub.messaging.planning import run_planning

    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 08:00 WIB
    organiser = await make_staff("organiser")
    program = await make_program(organiser=organiser, starts_at=now + timedelta(days=2))
    await add_registration(program, created_at=datetime(2026, 12, 1, 5, 0, tzinfo=UTC))
    done: set[date] = set()
    assert await run_planning(settings, now, digests_done=done) == (2, 1)
    assert done == {date(2026, 12, 1)}
    assert await run_planning(settings, now + timedelta(minutes=1), digests_done=done) == (0, 0)
