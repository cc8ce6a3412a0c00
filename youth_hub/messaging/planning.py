"""Planning messages: reminders before each program, notices when a program moves or is
cancelled, and the organisers' daily digest.

Every planned message has a dedupe key (`reminder:<registration id>:<offset>`,
`digest:<user id>:<date>`...), inserted with ON CONFLICT DO NOTHING: planning twice, or from
two processes at once, plans once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from youth_hub import db
from youth_hub.accounts.tables import StaffUser
from youth_hub.catalog.tables import Program
from youth_hub.messaging.outbox import enqueue_message
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.registration.tables import Registration
from youth_hub.settings import Settings

LIVE_STATUSES = ("confirmed", "waitlisted")
MAX_OFFSET_MINUTES = 60 * 24 * 60  # two months: anything longer is a typo
SWEEP_LIMIT = 500
DIGEST_HOUR = 7  # local time: the organisers' digest goes out with the morning coffee
DIGEST_NAMES_PER_PROGRAM = 50
PASSED_NOTE = "not sent: its time had passed when the seat was confirmed"


def reminder_offsets(program_offsets: str | None, settings: Settings) -> tuple[int, ...]:
    """The program's own offsets ("1440,120") when it has valid ones, else the settings'."""
    values: set[int] = set()
    for part in (program_offsets or "").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) <= MAX_OFFSET_MINUTES:
            values.add(int(part))
    return tuple(sorted(values, reverse=True)) if values else tuple(settings.reminder_offsets)


def reminder_plan(
    starts_at: datetime, offsets: Sequence[int], now: datetime
) -> list[tuple[int, datetime | None]]:
    """(offset, due time or None for "not sent") for each offset.

    Future offsets go out at their time; of the offsets already passed only the latest (the
    one closest to the start) goes out, at once; nothing once the program has begun."""
    if now >= starts_at:
        return [(offset, None) for offset in offsets]
    passed = [o for o in offsets if starts_at - timedelta(minutes=o) <= now]
    latest_passed = min(passed) if passed else None
    plan: list[tuple[int, datetime | None]] = []
    for offset in offsets:
        due = starts_at - timedelta(minutes=offset)
        if due > now:
            plan.append((offset, due))
        elif offset == latest_passed:
            plan.append((offset, now))
        else:
            plan.append((offset, None))
    return plan


def reminder_key(registration_id: int, offset: int) -> str:
    return f"reminder:{registration_id}:{offset}"


async def plan_registration_reminders(
    registration: Mapping[str, Any],
    program: Mapping[str, Any],
    settings: Settings,
    now: datetime,
) -> int:
    """Plan a confirmed registration's reminders; returns how many new rows will be sent."""
    starts_at = program.get("first_starts_at")
    if starts_at is None or registration["status"] != "confirmed":
        return 0
    planned = 0
    offsets = reminder_offsets(program.get("reminder_offsets"), settings)
    for offset, due in reminder_plan(starts_at, offsets, now):
        new_id = await enqueue_message(
            kind="reminder",
            to_email=registration["email"],
            to_name=registration["full_name"],
            language=registration["language"],
            ticket_code=registration["code"],
            program_id=program["id"],
            base_url=settings.base_url,
            context={"offset": offset},
            due_at=due or now,
            dedupe_key=reminder_key(registration["id"], offset),
            state="pending" if due is not None else "dropped",
            note="" if due is not None else PASSED_NOTE,
        )
        planned += 1 if new_id is not None and due is not None else 0
    return planned


async def plan_due_reminders(settings: Settings, now: datetime | None = None) -> int:
    """The planning sweep (every scheduler tick, before sending): confirmed registrations of
    upcoming programs that have no reminder rows yet get theirs; pending reminders of seats
    that are no longer confirmed are dropped. Returns how many reminders were added."""
    now = now or datetime.now(UTC)
    await drop_unconfirmed_reminders()
    rows = await Registration.raw(
        "SELECT r.id, r.code, r.status, r.full_name, r.email, r.language, "
        "p.id AS program_id, p.first_starts_at, p.reminder_offsets "
        "FROM registration_registration r "
        "JOIN catalog_program p ON p.id = r.program "
        "WHERE r.status = 'confirmed' AND p.status = 'published' AND p.first_starts_at > {} "
        "AND NOT EXISTS (SELECT 1 FROM messaging_outbox o "
        "WHERE o.ticket_code = r.code AND o.kind = 'reminder') "
        f"ORDER BY p.first_starts_at LIMIT {SWEEP_LIMIT}",
        now,
    ).run()
    added = 0
    for row in rows:
        program = {
            "id": row["program_id"],
            "first_starts_at": _aware(row["first_starts_at"]),
            "reminder_offsets": row["reminder_offsets"],
        }
        # All offsets of a seat together or none: the sweep looks for seats with no reminder
        # row at all, so a half-planned seat would never get the rest.
        async with db.write_transaction():
            added += await plan_registration_reminders(row, program, settings, now)
    return added


async def drop_unconfirmed_reminders() -> None:
    """One UPDATE: pending reminders whose registration is cancelled (or back on a list)."""
    await OutboxMessage.raw(
        "UPDATE messaging_outbox SET state = 'dropped', "
        "last_error = 'dropped: the registration is no longer confirmed' "
        "WHERE state = 'pending' AND kind = 'reminder' AND EXISTS ("
        "SELECT 1 FROM registration_registration r "
        "WHERE r.code = messaging_outbox.ticket_code AND r.status <> 'confirmed')"
    ).run()


async def drop_reminders(ticket_code: str) -> None:
    """For the registration domain, in its cancel transaction: the seat's pending reminders
    will not go out (the planning sweep would drop them too, a tick later)."""
    await (
        OutboxMessage.update(
            {
                OutboxMessage.state: "dropped",
                OutboxMessage.last_error: "dropped: the registration was cancelled",
            }
        )
        .where(
            (OutboxMessage.ticket_code == ticket_code)
            & (OutboxMessage.kind == "reminder")
            & (OutboxMessage.state == "pending")
        )
        .run()
    )


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _program(program_id: int) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await Program.select(
            Program.id,
            Program.title,
            Program.status,
            Program.first_starts_at,
            Program.reminder_offsets,
            Program.venue,
        )
        .where(Program.id == program_id)
        .first()
        .run()
    )
    return row


async def _registrations(program_id: int, statuses: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Registration.select(
            Registration.id,
            Registration.code,
            Registration.status,
            Registration.full_name,
            Registration.email,
            Registration.language,
        )
        .where((Registration.program == program_id) & Registration.status.is_in(list(statuses)))
        .order_by(Registration.id)
        .run()
    )
    return rows


async def replan_program(
    program_id: int, changes: Mapping[str, Any], settings: Settings, now: datetime | None = None
) -> None:
    """A program's times or place changed: pending reminders follow the new start, and
    every live registrant is told (`changed`)."""
    now = now or datetime.now(UTC)
    moved, relocated = bool(changes.get("times")), bool(changes.get("place"))
    if not (moved or relocated):
        return
    program = await _program(program_id)
    if program is None or program["status"] == "cancelled":
        return
    if moved:
        await _replan_reminders(program, settings, now)
    live = await _registrations(program_id, LIVE_STATUSES)
    # An older notice not yet sent would tell the same story: the newest one replaces it.
    await (
        OutboxMessage.update(
            {OutboxMessage.state: "dropped", OutboxMessage.last_error: "replaced by a newer notice"}
        )
        .where(
            (OutboxMessage.program == program_id)
            & (OutboxMessage.kind == "changed")
            & (OutboxMessage.state == "pending")
        )
        .run()
    )
    context: dict[str, Any] = {"times": moved, "place": relocated}
    for key in ("old_starts_at", "old_venue"):
        if changes.get(key):
            value = changes[key]
            context[key] = value.isoformat() if isinstance(value, datetime) else str(value)
    for registration in live:
        await enqueue_message(
            kind="changed",
            to_email=registration["email"],
            to_name=registration["full_name"],
            language=registration["language"],
            ticket_code=registration["code"],
            program_id=program_id,
            base_url=settings.base_url,
            context=context,
            due_at=now,
        )


async def _replan_reminders(program: Mapping[str, Any], settings: Settings, now: datetime) -> None:
    starts_at = program.get("first_starts_at")
    confirmed = await _registrations(program["id"], ("confirmed",))
    if starts_at is None or not confirmed:
        return
    offsets = reminder_offsets(program.get("reminder_offsets"), settings)
    plan = dict(reminder_plan(starts_at, offsets, now))
    existing = (
        await OutboxMessage.select(
            OutboxMessage.id, OutboxMessage.ticket_code, OutboxMessage.state, OutboxMessage.context
        )
        .where((OutboxMessage.program == program["id"]) & (OutboxMessage.kind == "reminder"))
        .output(load_json=True)
        .run()
    )
    by_code: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in existing:
        offset = (row["context"] or {}).get("offset")
        if isinstance(offset, int):
            by_code[row["ticket_code"]][offset] = row
    for registration in confirmed:
        rows = by_code.get(registration["code"], {})
        for offset, row in rows.items():
            if row["state"] not in {"pending", "dropped"}:
                continue  # sent, failed or being sent: history, not plans
            due = plan.get(offset)
            if due is not None:
                await (
                    OutboxMessage.update(
                        {
                            OutboxMessage.state: "pending",
                            OutboxMessage.due_at: due,
                            OutboxMessage.last_error: "",
                        }
                    )
                    .where(
                        (OutboxMessage.id == row["id"])
                        & OutboxMessage.state.is_in(["pending", "dropped"])
                    )
                    .run()
                )
            elif row["state"] == "pending":
                note = PASSED_NOTE if offset in plan else "dropped: no longer a reminder offset"
                await (
                    OutboxMessage.update(
                        {OutboxMessage.state: "dropped", OutboxMessage.last_error: note}
                    )
                    .where((OutboxMessage.id == row["id"]) & (OutboxMessage.state == "pending"))
                    .run()
                )
        missing = [o for o in offsets if o not in rows]
        if missing:
            program_for_plan = dict(program)
            await _plan_offsets(registration, program_for_plan, missing, plan, settings, now)


async def _plan_offsets(
    registration: Mapping[str, Any],
    program: Mapping[str, Any],
    offsets: Sequence[int],
    plan: Mapping[int, datetime | None],
    settings: Settings,
    now: datetime,
) -> None:
    for offset in offsets:
        due = plan.get(offset)
        await enqueue_message(
            kind="reminder",
            to_email=registration["email"],
            to_name=registration["full_name"],
            language=registration["language"],
            ticket_code=registration["code"],
            program_id=program["id"],
            base_url=settings.base_url,
            context={"offset": offset},
            due_at=due or now,
            dedupe_key=reminder_key(registration["id"], offset),
            state="pending" if due is not None else "dropped",
            note="" if due is not None else PASSED_NOTE,
        )


async def cancel_program_messages(
    program_id: int, settings: Settings, now: datetime | None = None
) -> None:
    """A program was cancelled: its pending reminders and notices are dropped and every live
    registrant gets one `program_cancelled`."""
    now = now or datetime.now(UTC)
    await (
        OutboxMessage.update(
            {OutboxMessage.state: "dropped", OutboxMessage.last_error: "dropped: program cancelled"}
        )
        .where(
            (OutboxMessage.program == program_id)
            & OutboxMessage.kind.is_in(["reminder", "changed"])
            & (OutboxMessage.state == "pending")
        )
        .run()
    )
    for registration in await _registrations(program_id, LIVE_STATUSES):
        await enqueue_message(
            kind="program_cancelled",
            to_email=registration["email"],
            to_name=registration["full_name"],
            language=registration["language"],
            ticket_code=registration["code"],
            program_id=program_id,
            base_url=settings.base_url,
            due_at=now,
            dedupe_key=f"program_cancelled:{registration['id']}",
        )


def digest_day(now: datetime, settings: Settings) -> date | None:
    """The local day whose digest is due at `now` (yesterday, from DIGEST_HOUR on)."""
    local = now.astimezone(settings.tz)
    if local.hour < DIGEST_HOUR:
        return None
    return local.date() - timedelta(days=1)


async def plan_digests(settings: Settings, now: datetime | None = None) -> int:
    """Each organiser gets one digest a day listing their programs' registrations of the
    previous day (none when there were none). Returns how many digests were added."""
    now = now or datetime.now(UTC)
    day = digest_day(now, settings)
    if day is None:
        return 0
    start = datetime.combine(day, time(0), tzinfo=settings.tz).astimezone(UTC)
    end = start + timedelta(days=1)
    rows = await Registration.raw(
        "SELECT p.organiser AS organiser, p.id AS program_id, p.title, r.full_name, r.status "
        "FROM registration_registration r JOIN catalog_program p ON p.id = r.program "
        "WHERE r.created_at >= {} AND r.created_at < {} AND p.organiser IS NOT NULL "
        "ORDER BY p.organiser, p.title, r.id",
        start,
        end,
    ).run()
    if not rows:
        return 0
    by_organiser: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        programs = by_organiser[row["organiser"]]
        entry = programs.setdefault(
            row["program_id"],
            {"title": row["title"], "count": 0, "confirmed": 0, "waitlisted": 0, "names": []},
        )
        entry["count"] += 1
        if row["status"] in ("confirmed", "waitlisted"):
            entry[row["status"]] += 1
        if len(entry["names"]) < DIGEST_NAMES_PER_PROGRAM:
            entry["names"].append({"name": row["full_name"], "status": row["status"]})
    users = (
        await StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.name, StaffUser.language)
        .where(StaffUser.id.is_in(list(by_organiser)) & StaffUser.active.eq(True))
        .run()
    )
    added = 0
    for user in users:
        summary = list(by_organiser[user["id"]].values())
        new_id = await enqueue_message(
            kind="digest",
            to_email=user["email"],
            to_name=user["name"],
            language=user["language"],
            base_url=settings.base_url,
            context={"day": day.isoformat(), "programs": summary},
            due_at=now,
            dedupe_key=f"digest:{user['id']}:{day.isoformat()}",
        )
        added += new_id is not None
    return added


async def run_planning(
    settings: Settings, now: datetime | None = None, *, digests_done: set[date] | None = None
) -> tuple[int, int]:
    """What the scheduler runs each tick before sending. `digests_done` (kept by the
    scheduler) skips the digest query for a day already planned: yesterday's registrations
    do not change, and the dedupe keys keep it once a day across processes anyway."""
    now = now or datetime.now(UTC)
    reminders = await plan_due_reminders(settings, now)
    digests = 0
    day = digest_day(now, settings)
    if day is not None and (digests_done is None or day not in digests_done):
        digests = await plan_digests(settings, now)
        if digests_done is not None:
            digests_done.add(day)
    return reminders, digests


__all__ = [
    "cancel_program_messages",
    "drop_reminders",
    "plan_digests",
    "plan_due_reminders",
    "plan_registration_reminders",
    "reminder_offsets",
    "reminder_plan",
    "replan_program",
    "run_planning",
]
