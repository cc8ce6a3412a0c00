"""Check-in rules: who may scan, scanning a ticket online, offline batches, undo, attendance.

Plain async functions, no HTTP. Every scan ends in one answer of a closed set (RESULTS) and
one scan-log row. Exactly one `ok` per ticket and session comes from the unique index on
(registration, session): the check-in row is inserted and a conflict read back, never
checked for first.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)

from youth_hub import db, sql
from youth_hub.accounts import CurrentUser, Role
from youth_hub.accounts.tables import StaffUser
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.checkin.tables import CheckIn, ScanLog, ScannerAssignment
from youth_hub.i18n import gettext as _
from youth_hub.registration.tables import Registration
from youth_hub.sql import Statement
from youth_hub.tickets import InvalidTicket, TicketClaims, public_keys, verify_ticket
from youth_hub.web.errors import DomainError, FieldError, ValidationFailed
from youth_hub.web.spreadsheet import csv_text

RESULTS = (
    "ok",
    "already_checked_in",
    "invalid",
    "unknown",
    "cancelled",
    "waitlisted",
    "wrong_program",
    "not_allowed",
    "outside_window",
)
# How the scan page colours each answer: green admits, amber needs a look, red refuses.
TONES = {
    "ok": "green",
    "already_checked_in": "amber",
    "waitlisted": "amber",
    "outside_window": "amber",
    "invalid": "red",
    "unknown": "red",
    "cancelled": "red",
    "wrong_program": "red",
    "not_allowed": "red",
}
UNDO_WINDOW = timedelta(minutes=15)
MAX_PAYLOAD = 2000  # longer than any QR we print; verify_ticket refuses beyond 200 anyway
MAX_NONCE = 80
MAX_DEVICE_ID = 64
MAX_BATCH = 500
MAX_ID = 2**31 - 1  # integer primary keys
MIN_SEARCH = 3
MAX_SEARCH = 60
SEARCH_LIMIT = 20
# Nonces and device ids: printable ASCII without spaces.
_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class CheckinAnswer:
    """What a scanner is told: a result, a first name at most, never other personal data."""

    result: str
    program: str | None
    session_id: int | None = None
    first_name: str | None = None
    checked_in_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "first_name": self.first_name,
            "program": self.program,
            "session_id": self.session_id,
            "checked_in_at": self.checked_in_at.isoformat() if self.checked_in_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckinAnswer:
        stamp = data.get("checked_in_at")
        return cls(
            result=str(data.get("result", "")),
            program=data.get("program"),
            session_id=data.get("session_id"),
            first_name=data.get("first_name"),
            checked_in_at=datetime.fromisoformat(stamp) if stamp else None,
        )

    @property
    def tone(self) -> str:
        return TONES.get(self.result, "red")


def result_title(result: str) -> str:
    """The big line of the result panel, in the user's language."""
    titles = {
        "ok": _("Checked in"),
        "already_checked_in": _("Already checked in"),
        "invalid": _("Not a valid ticket"),
        "unknown": _("Ticket not found"),
        "cancelled": _("Ticket cancelled"),
        "waitlisted": _("On the waiting list"),
        "wrong_program": _("Ticket for another program"),
        "not_allowed": _("Not allowed to scan here"),
        "outside_window": _("Check-in is not open"),
    }
    return titles.get(result, result)


def result_reason(result: str) -> str:
    """One sentence saying what the scanner should do."""
    reasons = {
        "ok": _("Let them in."),
        "already_checked_in": _("This ticket was already used for this session."),
        "invalid": _("The code is not a Youth Hub ticket, or it was altered."),
        "unknown": _("The ticket is signed but no registration has it."),
        "cancelled": _("The registration was cancelled. Do not let them in."),
        "waitlisted": _("The registration has no seat yet: it is on the waiting list."),
        "wrong_program": _("The ticket belongs to another program."),
        "not_allowed": _("Your account is not assigned to scan this program."),
        "outside_window": _("No session or stop of this program is open for check-in now."),
    }
    return reasons.get(result, "")


# --------------------------------------------------------------------------- helpers


def _is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    import asyncpg

    return isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def payload_hash(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()


def first_name_of(row: dict[str, Any]) -> str:
    """What a scanner may see: the registrant's first name, or the first word of the name."""
    first = (row.get("first_name") or "").strip()
    if first:
        return first
    words = (row.get("full_name") or "").split()
    return words[0] if words else ""


def short_name(row: dict[str, Any]) -> str:
    """First name and the initial of the last name, for scanners' name search."""
    first = first_name_of(row)
    words = (row.get("full_name") or "").split()
    if len(words) > 1 and words[-1] != first:
        return f"{first} {words[-1][0]}."
    return first


_PROGRAM_COLUMNS = (
    Program.id,
    Program.slug,
    Program.title,
    Program.kind,
    Program.status,
    Program.organiser,
    Program.checkin_opens_minutes_before,
    Program.first_starts_at,
)


async def program_by_slug(slug: str) -> dict[str, Any]:
    if not isinstance(slug, str) or not slug.strip() or len(slug) > 120:
        raise ValidationFailed(
            [FieldError("program", _("Choose the program you are admitting to."))]
        )
    row = await Program.select(*_PROGRAM_COLUMNS).where(Program.slug == slug.strip()).first().run()
    if row is None:
        raise DomainError(
            code="not_found",
            message=_("No program has this address."),
            status_code=HTTP_404_NOT_FOUND,
            errors=[FieldError("program", _("No program has this address."))],
        )
    return row


def can_manage(user: CurrentUser, program: dict[str, Any]) -> bool:
    """Its organiser, dinporapar or admin: sees personal data, assigns scanners, undoes any."""
    if user.is_office:
        return True
    return user.at_least(Role.ORGANISER) and program.get("organiser") == user.id


async def may_scan(user: CurrentUser, program: dict[str, Any]) -> bool:
    if can_manage(user, program):
        return True
    return bool(
        await ScannerAssignment.exists()
        .where((ScannerAssignment.program == program["id"]) & (ScannerAssignment.user == user.id))
        .run()
    )


async def list_scannable_programs(user: CurrentUser) -> list[dict[str, Any]]:
    """The programs this user may scan, soonest first; finished and cancelled ones left out."""
    query = Program.select(*_PROGRAM_COLUMNS).where(
        Program.status.not_in(["cancelled", "finished"])
    )
    if not user.is_office:
        assigned = (
            await ScannerAssignment.select(ScannerAssignment.program)
            .where(ScannerAssignment.user == user.id)
            .run()
        )
        ids = [row["program"] for row in assigned]
        if user.at_least(Role.ORGANISER):
            own = await Program.select(Program.id).where(Program.organiser == user.id).run()
            ids.extend(row["id"] for row in own)
        if not ids:
            return []
        query = query.where(Program.id.is_in(sorted(set(ids))))
    rows = await query.order_by(Program.first_starts_at).run()
    return list(rows)


_SESSIONS_SQL = (
    "SELECT id, title, starts_at, ends_at, location, day, position FROM catalog_session "
    "WHERE program = {} AND checkin = {} ORDER BY starts_at, position"
)


async def list_checkin_sessions(program_id: int) -> list[dict[str, Any]]:
    """Sessions and stops that are check-in points, in their order (every scan reads them:
    plain SQL, no query building)."""
    return list(await ProgramSession.raw(_SESSIONS_SQL, program_id, True).run())


async def find_open_program(programs: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """The first of `programs` with a check-in window open at `now` (one query for all)."""
    if not programs:
        return None
    by_id = {p["id"]: p for p in programs}
    widest = max(int(p.get("checkin_opens_minutes_before") or 0) for p in programs)
    rows = (
        await ProgramSession.select(
            ProgramSession.program, ProgramSession.starts_at, ProgramSession.ends_at
        )
        .where(
            ProgramSession.program.is_in(list(by_id))
            & ProgramSession.checkin.eq(True)
            & (ProgramSession.ends_at >= now)
            & (ProgramSession.starts_at <= now + timedelta(minutes=widest))
        )
        .run()
    )
    open_ids = set()
    for row in rows:
        opens, closes = window_of(by_id[row["program"]], row)
        if opens <= now <= closes:
            open_ids.add(row["program"])
    return next((p for p in programs if p["id"] in open_ids), None)


def window_of(program: dict[str, Any], session: dict[str, Any]) -> tuple[datetime, datetime]:
    """A session's check-in window: from `checkin_opens_minutes_before` its start to its end."""
    before = program.get("checkin_opens_minutes_before")
    before = 120 if before is None else max(int(before), 0)
    return _utc(session["starts_at"]) - timedelta(minutes=before), _utc(session["ends_at"])


def open_session(
    program: dict[str, Any], sessions: list[dict[str, Any]], at: datetime
) -> dict[str, Any] | None:
    """The session whose window holds `at`; of overlapping ones the one ending first (on a
    tour, the stop under way rather than the next one whose window already opened)."""
    open_now = [s for s in sessions if window_of(program, s)[0] <= at <= window_of(program, s)[1]]
    if not open_now:
        return None
    return min(open_now, key=lambda s: (_utc(s["ends_at"]), _utc(s["starts_at"])))


def _check_session_id(value: Any, field_name: str = "session_id") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationFailed(
            [FieldError(field_name, _("Choose a session or stop from the list."))]
        )
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(
            [FieldError(field_name, _("Choose a session or stop from the list."))]
        ) from None
    if number <= 0 or number > 2**31 - 1:
        raise ValidationFailed(
            [FieldError(field_name, _("Choose a session or stop from the list."))]
        )
    return number


def _pick_session(sessions: list[dict[str, Any]], session_id: int) -> dict[str, Any]:
    for session in sessions:
        if session["id"] == session_id:
            return session
    raise ValidationFailed(
        [FieldError("session_id", _("This program has no check-in point with this id."))]
    )


def _check_text(value: Any, field_name: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or not _PRINTABLE.match(value):
        raise ValidationFailed(
            [
                FieldError(
                    field_name,
                    _("At most %(limit)s letters, digits or signs, no spaces.", limit=limit),
                )
            ]
        )
    return value


def _check_payload(payload: Any) -> str:
    if not isinstance(payload, str) or not payload.strip():
        raise ValidationFailed([FieldError("payload", _("Scan or type the ticket code."))])
    if len(payload) > MAX_PAYLOAD:
        raise ValidationFailed(
            [FieldError("payload", _("This is far too long for a ticket code."))]
        )
    return payload.strip()


# --------------------------------------------------------------------------- scanning


@dataclass
class _Scan:
    """One scan on its way to an answer and a log row."""

    program: dict[str, Any]
    scanner: CurrentUser
    at: datetime
    now: datetime
    source: str = "scan"
    nonce: str | None = None
    device_id: str = ""
    scanned_at: datetime | None = None
    payload_hash: str = ""
    ticket_id: int | None = None
    session_id: int | None = None
    extra_log: list[dict[str, Any]] = field(default_factory=list)

    def answer(
        self, result: str, *, first_name: str | None = None, checked_in_at: datetime | None = None
    ) -> CheckinAnswer:
        return CheckinAnswer(
            result=result,
            program=self.program["slug"],
            session_id=self.session_id,
            first_name=first_name or None,
            checked_in_at=checked_in_at,
        )

    def log_row(self, answer: CheckinAnswer) -> dict[str, Any]:
        return {
            "at": self.now,
            "program": self.program["id"],
            "session_id": self.session_id,
            "ticket_id": self.ticket_id,
            "payload_hash": self.payload_hash,
            "result": answer.result,
            "scanner": self.scanner.id,
            "device_id": self.device_id,
            "nonce": self.nonce,
            "source": self.source,
            "scanned_at": self.scanned_at,
            "response": answer.as_dict(),
        }


# The scan path's statements, hand-written and run on the driver (youth_hub.sql): Piccolo's
# query building cost more than the statements themselves.
_LOG_COLUMNS = (
    "at",
    "program",
    "session_id",
    "ticket_id",
    "payload_hash",
    "result",
    "scanner",
    "device_id",
    "nonce",
    "source",
    "scanned_at",
    "response",
)
_INSERT_LOG = Statement(
    f"INSERT INTO checkin_scan_log ({', '.join(_LOG_COLUMNS)}) "
    f"VALUES ({', '.join('{}' for _ in _LOG_COLUMNS)})"
)
_CHECKIN_COLUMNS = (
    "registration",
    "session",
    "program",
    "checked_in_at",
    "scanned_at",
    "recorded_at",
    "device_id",
    "scanner",
    "nonce",
    "source",
)
# No check-then-insert: the unique index on (registration, session) picks the one `ok`.
_INSERT_CHECKIN_SQL = (
    f"INSERT INTO checkin_checkin ({', '.join(_CHECKIN_COLUMNS)}) "
    f"VALUES ({', '.join('{}' for _ in _CHECKIN_COLUMNS)}) "
    "ON CONFLICT (registration, session) DO NOTHING RETURNING id"
)
_INSERT_CHECKIN = Statement(_INSERT_CHECKIN_SQL)
# PostgreSQL admits in one statement, without BEGIN and COMMIT round trips: the check-in and
# its log row together, or neither when the ticket is in already (then the unit below runs).
# SQLite has no INSERT in WITH, and runs the unit whole in its thread anyway.
_LOG_TYPES = (
    "timestamptz",
    "integer",
    "integer",
    "integer",
    "varchar",
    "varchar",
    "integer",
    "varchar",
    "varchar",
    "varchar",
    "timestamptz",
    "json",
)
_ADMIT_AT_ONCE = Statement(
    f"WITH admitted AS ({_INSERT_CHECKIN_SQL}) "
    f"INSERT INTO checkin_scan_log ({', '.join(_LOG_COLUMNS)}) "
    f"SELECT {', '.join('{}::' + t for t in _LOG_TYPES)} FROM admitted RETURNING id"
)
_KEPT_SQL = (
    "SELECT id, checked_in_at, scanned_at, device_id, scanner, source "
    "FROM checkin_checkin WHERE registration = {} AND session = {}"
)
# On PostgreSQL FOR UPDATE: a concurrent earlier offline scan waits for this one.
_KEPT = {False: Statement(_KEPT_SQL), True: Statement(_KEPT_SQL + " FOR UPDATE")}
_MOVE_KEPT = Statement(
    "UPDATE checkin_checkin SET checked_in_at = {}, scanned_at = {}, device_id = {}, "
    "scanner = {}, nonce = {}, source = {} WHERE id = {} AND checked_in_at > {}"
)
_REPLAY = Statement("SELECT response FROM checkin_scan_log WHERE scanner = {} AND nonce = {}")


def _log_args(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        row["at"],
        row.get("program"),
        row.get("session_id"),
        row.get("ticket_id"),
        row.get("payload_hash") or "",
        row["result"],
        row.get("scanner"),
        row.get("device_id") or "",
        row.get("nonce"),
        row.get("source") or "scan",
        row.get("scanned_at"),
        json.dumps(row.get("response") or {}),
    )


def _checkin_args(scan: _Scan, registration_id: int) -> tuple[Any, ...]:
    return (
        registration_id,
        scan.session_id,
        scan.program["id"],
        scan.at,
        scan.scanned_at or scan.at,
        scan.now,
        scan.device_id,
        scan.scanner.id,
        scan.nonce,
        scan.source,
    )


def _stored_answer(response: Any) -> CheckinAnswer:
    return CheckinAnswer.from_dict(json.loads(response) if isinstance(response, str) else response)


async def _replayed(scanner: CurrentUser, nonce: str | None) -> CheckinAnswer | None:
    if not nonce:
        return None
    rows = await sql.fetch(_REPLAY, scanner.id, nonce)
    return _stored_answer(rows[0]["response"]) if rows else None


async def _decide(
    scan: _Scan, program_slug: Any, *, claims: TicketClaims | None, registration_id: int | None
) -> CheckinAnswer:
    """Read what the rules need in one query (no lock held), judge, then record."""
    requested_session = scan.session_id
    for attempt in range(2):
        scan.session_id = requested_session
        facts = await _scan_facts(program_slug, scan, registration_id)
        if isinstance(facts, CheckinAnswer):
            return facts  # a retry: the first answer, nothing written
        answer, registration, session = _judge(
            scan, facts, claims=claims, registration_id=registration_id
        )
        try:
            return await _record(scan, answer, registration, session)
        except Exception as exc:
            if not _is_integrity_error(exc):
                raise
            # The same nonce stored meanwhile by a concurrent retry: that answer is the first.
            if (first := await _replayed(scan.scanner, scan.nonce)) is not None:
                return first
            if attempt:
                raise
            # Otherwise a row the scan pointed at (a session, a registration) was deleted
            # between the read and the write: judge again on what is there now.
    raise AssertionError("unreachable")


async def _record(
    scan: _Scan,
    answer: CheckinAnswer,
    registration: dict[str, Any] | None,
    session: dict[str, Any] | None,
) -> CheckinAnswer:
    """A refusal or a ticket already in is one scan-log row; an admission is one short
    transaction with the check-in row, where the unique index decides who is first, and the
    scan-log row."""
    if registration is None or session is None:  # a refusal
        await sql.execute(_INSERT_LOG, *_log_args(scan.log_row(answer)))
        return answer
    if session["kept_at"] is not None and scan.source != "offline":
        # In already: only an earlier offline scan can take the place of the kept one.
        answer = scan.answer(
            "already_checked_in",
            first_name=answer.first_name,
            checked_in_at=_utc(session["kept_at"]),
        )
        await sql.execute(_INSERT_LOG, *_log_args(scan.log_row(answer)))
        return answer
    postgres = not db.is_sqlite(db.current_engine())
    if postgres:
        ok = scan.answer("ok", first_name=answer.first_name, checked_in_at=scan.at)
        args = _checkin_args(scan, registration["id"]) + _log_args(scan.log_row(ok))
        if await sql.execute(_ADMIT_AT_ONCE, *args):
            return ok
    return await sql.run(_admit(scan, registration["id"], answer.first_name or "", postgres))


# What a scan needs in one query: the program, whether the scanner is assigned to it, the
# first answer to this nonce if it is a retry, the registration the ticket names, and the
# program's check-in points with the ticket's check-in at each (one row per session or stop,
# the program's columns repeated; one row with no session when it has none).
_SCAN_FACTS = Statement(
    """
SELECT p.id, p.slug, p.title, p.kind, p.status, p.organiser, p.checkin_opens_minutes_before,
       EXISTS (SELECT 1 FROM checkin_scanner_assignment a
               WHERE a.program = p.id AND a."user" = {}) AS assigned,
       (SELECT l.response FROM checkin_scan_log l
        WHERE l.scanner = {} AND l.nonce = {}) AS replay,
       r.id AS registration_id, r.program AS registration_program,
       r.status AS registration_status, r.first_name, r.full_name,
       s.id AS session_id, s.title AS session_title, s.starts_at, s.ends_at,
       s.location, s.day, s.position, c.checked_in_at AS kept_at
FROM catalog_program p
LEFT JOIN registration_registration r ON r.id = {}
LEFT JOIN catalog_session s ON s.program = p.id AND s.checkin = {}
LEFT JOIN checkin_checkin c ON c.registration = r.id AND c.session = s.id
WHERE p.slug = {}
ORDER BY s.starts_at, s.position
"""
)
_PROGRAM_KEYS = (
    "id",
    "slug",
    "title",
    "kind",
    "status",
    "organiser",
    "checkin_opens_minutes_before",
)


@dataclass
class _Facts:
    program: dict[str, Any]
    registration: dict[str, Any] | None
    sessions: list[dict[str, Any]]


async def _scan_facts(
    program_slug: Any, scan: _Scan, registration_id: int | None
) -> _Facts | CheckinAnswer:
    """The facts of a scan, or the first answer when its nonce was seen before."""
    if not isinstance(program_slug, str) or not program_slug.strip() or len(program_slug) > 120:
        await program_by_slug(program_slug)  # raises the field error
    # A signed id beyond the column's range names no registration (and must not reach the
    # database as an out-of-range parameter).
    wanted = registration_id if registration_id and registration_id <= MAX_ID else 0
    rows = await sql.fetch(
        _SCAN_FACTS,
        scan.scanner.id,
        scan.scanner.id,
        scan.nonce,
        wanted,
        True,
        program_slug.strip(),
    )
    if not rows:
        if (first := await _replayed(scan.scanner, scan.nonce)) is not None:
            return first  # answered before the program went away
        await program_by_slug(program_slug)  # raises the 404 with its message
    row = rows[0]
    if row["replay"] is not None:
        return _stored_answer(row["replay"])
    program = {key: row[key] for key in _PROGRAM_KEYS}
    program["assigned"] = bool(row["assigned"])
    registration = None
    if row["registration_id"] is not None:
        registration = {
            "id": row["registration_id"],
            "program": row["registration_program"],
            "status": row["registration_status"],
            "first_name": row["first_name"],
            "full_name": row["full_name"],
        }
    sessions = [
        {
            "id": r["session_id"],
            "title": r["session_title"],
            "starts_at": r["starts_at"],
            "ends_at": r["ends_at"],
            "location": r["location"],
            "day": r["day"],
            "position": r["position"],
            "kept_at": r["kept_at"],
        }
        for r in rows
        if r["session_id"] is not None
    ]
    return _Facts(program, registration, sessions)


def _judge(
    scan: _Scan, facts: _Facts, *, claims: TicketClaims | None, registration_id: int | None
) -> tuple[CheckinAnswer, dict[str, Any] | None, dict[str, Any] | None]:
    """The rules: (the answer, the registration and session to admit), or (a refusal, None,
    None). Sets the scan's program and session."""
    program, registration, sessions = facts.program, facts.registration, facts.sessions
    scan.program = program
    if not (program["assigned"] or can_manage(scan.scanner, program)):
        return scan.answer("not_allowed"), None, None
    session = _pick_session(sessions, scan.session_id) if scan.session_id else None
    if registration_id is None:  # the scanned text is not a ticket we signed
        return scan.answer("invalid"), None, None
    if claims is not None and claims.program_id != program["id"]:
        return scan.answer("wrong_program"), None, None
    if registration is None or registration["program"] != program["id"]:
        return scan.answer("unknown"), None, None
    first_name = first_name_of(registration)
    if registration["status"] == "cancelled":
        return scan.answer("cancelled", first_name=first_name), None, None
    if registration["status"] != "confirmed":
        return scan.answer("waitlisted", first_name=first_name), None, None
    if session is None:
        session = open_session(program, sessions, scan.at)
        if session is None:
            return scan.answer("outside_window", first_name=first_name), None, None
        scan.session_id = session["id"]
    return scan.answer("ok", first_name=first_name), registration, session


def _admit(
    scan: _Scan, registration_id: int, first_name: str, locking: bool
) -> sql.Unit[CheckinAnswer]:
    """Insert the check-in; when a row is in the way, answer with it (and, offline, keep the
    earliest scan). One transaction, run by youth_hub.sql."""
    assert scan.session_id is not None
    kept: dict[str, Any] | None = None
    for _attempt in range(2):  # twice: the row in the way may be undone in between
        inserted = yield _INSERT_CHECKIN, _checkin_args(scan, registration_id)
        if inserted:
            answer = scan.answer("ok", first_name=first_name, checked_in_at=scan.at)
            yield _INSERT_LOG, _log_args(scan.log_row(answer))
            return answer
        rows = yield _KEPT[locking], (registration_id, scan.session_id)
        if rows:
            kept = rows[0]
            break
    if kept is None:
        raise RuntimeError("check-in row both present and absent twice over")
    kept_at = _utc(kept["checked_in_at"])
    duplicate: dict[str, Any]
    if scan.source == "offline" and scan.at < kept_at:
        # Offline, the earliest scan is the one kept whatever order the batches arrive in:
        # a later-arriving earlier scan takes the kept place.
        yield (
            _MOVE_KEPT,
            (
                scan.at,
                scan.scanned_at or scan.at,
                scan.device_id,
                scan.scanner.id,
                scan.nonce,
                scan.source,
                kept["id"],
                scan.at,
            ),
        )
        duplicate = {
            "scanner": kept["scanner"],
            "device_id": kept["device_id"],
            "scanned_at": kept["scanned_at"],
            "source": kept["source"],
        }
        kept_at = scan.at
    else:
        duplicate = {
            "scanner": scan.scanner.id,
            "device_id": scan.device_id,
            "scanned_at": scan.scanned_at or scan.at,
            "source": scan.source,
        }
    answer = scan.answer("already_checked_in", first_name=first_name, checked_in_at=kept_at)
    yield _INSERT_LOG, _log_args(scan.log_row(answer))
    if scan.source == "offline" or duplicate["source"] == "offline":
        # The scan that is not (or no longer) the kept one, recorded for reconciliation.
        record = {
            "at": scan.now,
            "program": scan.program["id"],
            "session_id": scan.session_id,
            "ticket_id": registration_id,
            "result": "duplicate",
            "response": {"kept_checked_in_at": kept_at.isoformat()},
            **duplicate,
        }
        yield _INSERT_LOG, _log_args(record)
    return answer


async def perform_checkin(
    payload: Any,
    program_slug: Any,
    *,
    scanner: CurrentUser,
    session_id: Any = None,
    nonce: Any = None,
    scanned_at: datetime | None = None,
    device_id: Any = None,
    now: datetime | None = None,
    data_dir: Path,
    source: str | None = None,
) -> CheckinAnswer:
    """Scan one ticket for a program (and a session, by default the one open now).

    `scanned_at` is the device's time of an offline scan; it decides the window and which of
    two offline scans is kept. A retry with the same `nonce` returns the first answer.
    """
    now = _utc(now or datetime.now(UTC))
    text = _check_payload(payload)
    nonce = _check_text(nonce, "nonce", MAX_NONCE)
    device = _check_text(device_id, "device_id", MAX_DEVICE_ID) or ""
    wanted_session = _check_session_id(session_id)
    try:
        claims: TicketClaims | None = verify_ticket(data_dir, text)  # CPU only, before the lock
    except InvalidTicket:
        claims = None
    at = min(_utc(scanned_at), now) if scanned_at else now
    scan = _Scan(
        program={"id": None, "slug": program_slug if isinstance(program_slug, str) else None},
        scanner=scanner,
        at=at,
        now=now,
        source=source or ("offline" if scanned_at else "scan"),
        nonce=nonce,
        device_id=device,
        scanned_at=_utc(scanned_at) if scanned_at else None,
        payload_hash=payload_hash(text),
        # An id beyond the column's range is logged by the payload hash only.
        ticket_id=claims.ticket_id if claims and claims.ticket_id <= MAX_ID else None,
        session_id=wanted_session,
    )
    registration_id = claims.ticket_id if claims else None
    return await _decide(scan, program_slug, claims=claims, registration_id=registration_id)


async def perform_manual_checkin(
    registration_id: Any,
    program_slug: Any,
    *,
    scanner: CurrentUser,
    session_id: Any = None,
    nonce: Any = None,
    now: datetime | None = None,
) -> CheckinAnswer:
    """Check in by name search: the same rules as a scan, without a ticket to verify."""
    now = _utc(now or datetime.now(UTC))
    try:
        reg_id = int(registration_id)
        if reg_id <= 0 or reg_id > 2**31 - 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed(
            [FieldError("registration_id", _("Choose a person from the search results."))]
        ) from None
    nonce = _check_text(nonce, "nonce", MAX_NONCE)
    scan = _Scan(
        program={"id": None, "slug": program_slug if isinstance(program_slug, str) else None},
        scanner=scanner,
        at=now,
        now=now,
        source="manual",
        nonce=nonce,
        ticket_id=reg_id,
        session_id=_check_session_id(session_id),
    )
    return await _decide(scan, program_slug, claims=None, registration_id=reg_id)


# --------------------------------------------------------------------------- offline batches


def _parse_scanned_at(value: Any, field_name: str) -> datetime:
    if not isinstance(value, str) or not value.strip() or len(value) > 40:
        raise ValidationFailed([FieldError(field_name, _("Give the scan time as ISO 8601."))])
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            [FieldError(field_name, _("Give the scan time as ISO 8601."))]
        ) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(
            [FieldError(field_name, _("The scan time needs a time zone, e.g. Z or +07:00."))]
        )
    if parsed.year < 2000:
        raise ValidationFailed([FieldError(field_name, _("The scan time is out of range."))])
    return parsed.astimezone(UTC)


def derived_nonce(scan: dict[str, Any], scanned_at: datetime) -> str:
    """A scan sent without a nonce is identified by what it is, so a re-sent batch is a retry."""
    identity = "|".join(
        [
            str(scan.get("device_id") or ""),
            str(scan.get("payload")),
            str(scan.get("program")),
            str(scan.get("session_id")),
            scanned_at.isoformat(),
        ]
    )
    return "o:" + hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:40]


def _check_batch(scans: Any) -> list[dict[str, Any]]:
    if not isinstance(scans, list):
        raise ValidationFailed([FieldError("scans", _("Send the scans as a list."))])
    if len(scans) > MAX_BATCH:
        raise ValidationFailed(
            [FieldError("scans", _("At most %(limit)s scans per batch.", limit=MAX_BATCH))]
        )
    checked = []
    for index, scan in enumerate(scans):
        prefix = f"scans[{index}]"
        if not isinstance(scan, dict):
            raise ValidationFailed([FieldError(prefix, _("Each scan is an object."))])
        try:
            _check_payload(scan.get("payload"))
            _check_text(scan.get("nonce"), "nonce", MAX_NONCE)
            _check_text(scan.get("device_id"), "device_id", MAX_DEVICE_ID)
            _check_session_id(scan.get("session_id"))
            if not isinstance(scan.get("program"), str) or not scan["program"].strip():
                raise ValidationFailed(
                    [FieldError("program", _("Choose the program you are admitting to."))]
                )
        except ValidationFailed as exc:
            raise ValidationFailed(
                [FieldError(f"{prefix}.{e.field}", e.message) for e in exc.errors]
            ) from None
        scanned_at = _parse_scanned_at(scan.get("scanned_at"), f"{prefix}.scanned_at")
        checked.append({**scan, "scanned_at": scanned_at})
    return checked


async def perform_checkin_batch(
    scans: Any, *, scanner: CurrentUser, data_dir: Path, now: datetime | None = None
) -> list[CheckinAnswer]:
    """Scans made offline, sent late: one answer per scan, in order. The earliest scan of a
    ticket and session is kept; a batch sent twice answers as the first time and changes
    nothing (each scan's nonce, or one derived from the scan itself)."""
    checked = _check_batch(scans)
    now = _utc(now or datetime.now(UTC))
    answers = []
    for scan in checked:
        nonce = scan.get("nonce") or derived_nonce(scan, scan["scanned_at"])
        try:
            answer = await perform_checkin(
                scan["payload"],
                scan["program"],
                scanner=scanner,
                session_id=scan.get("session_id"),
                nonce=nonce,
                scanned_at=scan["scanned_at"],
                device_id=scan.get("device_id"),
                now=now,
                data_dir=data_dir,
                source="offline",
            )
        except DomainError as exc:
            # A program gone since the scan, or a session no longer a check-in point: the
            # scan is answered, not the whole batch refused (it would be re-sent forever).
            result = "not_allowed" if exc.code == "not_found" else "outside_window"
            answer = CheckinAnswer(
                result=result, program=str(scan["program"])[:120], session_id=None
            )
        answers.append(answer)
    return answers


# --------------------------------------------------------------------------- bundle


async def build_checkin_bundle(
    program_slug: str, *, user: CurrentUser, data_dir: Path, now: datetime | None = None
) -> dict[str, Any]:
    """What a scanner needs offline: keys, refused ticket ids, ids already in. Ids only."""
    program = await program_by_slug(program_slug)
    if not await may_scan(user, program):
        raise DomainError(
            code="not_allowed",
            message=_("Your account is not assigned to scan this program."),
            status_code=HTTP_403_FORBIDDEN,
        )
    sessions = await list_checkin_sessions(program["id"])
    refused = (
        await Registration.select(Registration.id, Registration.status)
        .where((Registration.program == program["id"]) & (Registration.status != "confirmed"))
        .run()
    )
    checked_in = (
        await CheckIn.select(CheckIn.registration, CheckIn.session)
        .where(CheckIn.program == program["id"])
        .run()
    )
    return {
        "program": {
            "id": program["id"],
            "slug": program["slug"],
            "title": program["title"],
            "kind": program["kind"],
            "checkin_opens_minutes_before": program["checkin_opens_minutes_before"],
        },
        "sessions": [
            {
                "id": s["id"],
                "title": s["title"],
                "starts_at": _utc(s["starts_at"]).isoformat(),
                "ends_at": _utc(s["ends_at"]).isoformat(),
                "opens_at": window_of(program, s)[0].isoformat(),
                "day": s["day"],
                "location": s["location"],
            }
            for s in sessions
        ],
        "public_keys": public_keys(data_dir),
        "cancelled": sorted(r["id"] for r in refused if r["status"] == "cancelled"),
        "waitlisted": sorted(r["id"] for r in refused if r["status"] != "cancelled"),
        "checked_in": [
            {"ticket_id": r["registration"], "session_id": r["session"]} for r in checked_in
        ],
        "generated_at": _utc(now or datetime.now(UTC)).isoformat(),
    }


# --------------------------------------------------------------------------- scanners


async def get_managed_program(
    program_slug: str, user: CurrentUser, *, hide: bool = True
) -> dict[str, Any]:
    """The program if `user` manages it; otherwise 404 (pages: another's program is not
    there) or 403 (API, hide=False)."""
    program = await program_by_slug(program_slug)
    if not can_manage(user, program):
        if hide:
            raise DomainError(
                code="not_found",
                message=_("No program has this address."),
                status_code=HTTP_404_NOT_FOUND,
            )
        raise DomainError(
            code="forbidden",
            message=_("Your account may not do this."),
            status_code=HTTP_403_FORBIDDEN,
        )
    return program


async def assign_scanner(
    program_slug: str, email: Any, *, by: CurrentUser, hide: bool = True
) -> tuple[dict[str, Any], bool]:
    """Let a staff member scan this program. Returns (the user, whether newly assigned)."""
    program = await get_managed_program(program_slug, by, hide=hide)
    if not isinstance(email, str) or not email.strip() or len(email) > 254 or "@" not in email:
        raise ValidationFailed([FieldError("email", _("Enter a valid email address."))])
    staff = (
        await StaffUser.select(StaffUser.id, StaffUser.email, StaffUser.name, StaffUser.role)
        .where((StaffUser.email == email.strip().lower()) & StaffUser.active.eq(True))
        .first()
        .run()
    )
    if staff is None:
        message = _("No active staff account has this email.")
        raise DomainError(
            code="no_such_user",
            message=message,
            status_code=HTTP_404_NOT_FOUND,
            errors=[FieldError("email", message)],
        )
    try:
        await ScannerAssignment.insert(
            ScannerAssignment(program=program["id"], user=staff["id"], assigned_by=by.id)
        ).run()
    except Exception as exc:
        if _is_integrity_error(exc):
            return staff, False  # already assigned: asking twice changes nothing
        raise
    return staff, True


async def unassign_scanner(program_slug: str, user_id: Any, *, by: CurrentUser) -> None:
    program = await get_managed_program(program_slug, by)
    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        raise ValidationFailed(
            [FieldError("user_id", _("Choose a scanner from the list."))]
        ) from None
    await (
        ScannerAssignment.delete()
        .where((ScannerAssignment.program == program["id"]) & (ScannerAssignment.user == uid))
        .run()
    )


async def list_scanners(program_id: int) -> list[dict[str, Any]]:
    rows = (
        await ScannerAssignment.select(
            ScannerAssignment.user,
            ScannerAssignment.user.email.as_alias("email"),
            ScannerAssignment.user.name.as_alias("name"),
            ScannerAssignment.user.role.as_alias("role"),
            ScannerAssignment.created_at,
        )
        .where(ScannerAssignment.program == program_id)
        .order_by(ScannerAssignment.created_at)
        .run()
    )
    return list(rows)


# --------------------------------------------------------------------------- undo


async def undo_checkin(
    checkin_id: Any, *, user: CurrentUser, now: datetime | None = None
) -> dict[str, Any]:
    """Remove a mistaken check-in within 15 minutes: its scanner or the program's managers."""
    now = _utc(now or datetime.now(UTC))
    try:
        cid = int(checkin_id)
    except (TypeError, ValueError):
        cid = 0
    row = (
        await CheckIn.select(
            CheckIn.id,
            CheckIn.registration,
            CheckIn.session,
            CheckIn.program,
            CheckIn.scanner,
            CheckIn.recorded_at,
        )
        .where(CheckIn.id == cid)
        .first()
        .run()
        if 0 < cid < 2**31
        else None
    )
    program = (
        await Program.select(*_PROGRAM_COLUMNS).where(Program.id == row["program"]).first().run()
        if row
        else None
    )
    if row is None or program is None:
        raise DomainError(
            code="not_found",
            message=_("This check-in does not exist any more."),
            status_code=HTTP_404_NOT_FOUND,
        )
    own = row["scanner"] == user.id and await may_scan(user, program)
    if not (own or can_manage(user, program)):
        raise DomainError(
            code="forbidden",
            message=_(
                "Only the scanner who made a check-in, or the program's organiser, may undo it."
            ),
            status_code=HTTP_403_FORBIDDEN,
        )
    if now - _utc(row["recorded_at"]) > UNDO_WINDOW:
        raise DomainError(
            code="undo_expired",
            message=_("A check-in can only be undone within 15 minutes."),
            status_code=HTTP_409_CONFLICT,
        )
    async with db.write_transaction():
        deleted = await CheckIn.delete().where(CheckIn.id == cid).returning(CheckIn.id).run()
        if not deleted:  # undone meanwhile by someone else: nothing more to do
            raise DomainError(
                code="not_found",
                message=_("This check-in does not exist any more."),
                status_code=HTTP_404_NOT_FOUND,
            )
        await ScanLog.insert(
            ScanLog(
                at=now,
                program=program["id"],
                session_id=row["session"],
                ticket_id=row["registration"],
                result="undone",
                scanner=user.id,
                source="manual",
                response={"checkin_id": cid},
            )
        ).run()
    return {"program": program, "registration": row["registration"], "session": row["session"]}


# --------------------------------------------------------------------------- staff views


async def search_registrations(
    program: dict[str, Any], query: Any, *, user: CurrentUser, session_id: int | None = None
) -> list[dict[str, Any]]:
    """Registrations whose name contains `query` (at least 3 characters). Scanners see a first
    name and the initial of the last name; the program's managers see the full name."""
    text = query.strip() if isinstance(query, str) else ""
    if len(text) < MIN_SEARCH:
        raise ValidationFailed([FieldError("q", _("Type at least 3 letters of the name."))])
    if len(text) > MAX_SEARCH:
        raise ValidationFailed([FieldError("q", _("At most 60 characters."))])
    # LIKE narrows in the database; wildcards typed by the user only widen it, and the exact
    # case-insensitive test below decides.
    needle = text.casefold()
    pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
    # SQLite's LIKE already ignores ASCII case (and has no ILIKE).
    name_matches = (
        Registration.full_name.like(pattern)
        if db.is_sqlite(db.current_engine())
        else Registration.full_name.ilike(pattern)
    )
    rows = (
        await Registration.select(
            Registration.id,
            Registration.status,
            Registration.first_name,
            Registration.full_name,
            Registration.kecamatan,
        )
        .where((Registration.program == program["id"]) & name_matches)
        .order_by(Registration.full_name)
        .limit(200)
        .run()
    )
    found = [r for r in rows if needle in (r["full_name"] or "").casefold()][:SEARCH_LIMIT]
    checked: set[int] = set()
    if session_id and found:
        done = (
            await CheckIn.select(CheckIn.registration)
            .where(
                (CheckIn.session == session_id)
                & CheckIn.registration.is_in([r["id"] for r in found])
            )
            .run()
        )
        checked = {r["registration"] for r in done}
    full = can_manage(user, program)
    return [
        {
            "id": r["id"],
            "label": r["full_name"] if full else short_name(r),
            "detail": r["kecamatan"] if full else "",
            "status": r["status"],
            "checked_in": r["id"] in checked,
        }
        for r in found
    ]


async def count_checkins(program_id: int, session_id: int | None) -> dict[str, int]:
    expected = (
        await Registration.count()
        .where((Registration.program == program_id) & (Registration.status == "confirmed"))
        .run()
    )
    checked = await CheckIn.count().where(CheckIn.session == session_id).run() if session_id else 0
    return {"expected": int(expected), "checked_in": int(checked)}


async def list_recent_scans(
    program_id: int, user: CurrentUser, *, now: datetime | None = None, limit: int = 8
) -> list[dict[str, Any]]:
    """This scanner's last answers for a program, with the check-ins they may still undo."""
    now = _utc(now or datetime.now(UTC))
    rows = (
        await ScanLog.select(
            ScanLog.id,
            ScanLog.at,
            ScanLog.scanned_at,
            ScanLog.result,
            ScanLog.ticket_id,
            ScanLog.session_id,
            ScanLog.response,
            ScanLog.nonce,
        )
        .where(
            (ScanLog.program == program_id)
            & (ScanLog.scanner == user.id)
            & ScanLog.result.not_in(["duplicate"])
        )
        .order_by(ScanLog.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
        .run()
    )
    undoable = (
        await CheckIn.select(CheckIn.id, CheckIn.registration, CheckIn.session)
        .where(
            (CheckIn.program == program_id)
            & (CheckIn.scanner == user.id)
            & (CheckIn.recorded_at >= now - UNDO_WINDOW)
        )
        .run()
    )
    by_key = {(r["registration"], r["session"]): r["id"] for r in undoable}
    seen: set[tuple[int, int]] = set()
    items = []
    for row in rows:
        key = (row["ticket_id"], row["session_id"])
        undo_id = None
        if row["result"] == "ok" and key not in seen:
            undo_id = by_key.get(key)  # only the newest ok of a ticket offers undo
            seen.add(key)
        response = row["response"] if isinstance(row["response"], dict) else {}
        items.append(
            {
                # When the scanner scanned: for an offline scan the phone's time, not the sync.
                "at": row["scanned_at"] or row["at"],
                "result": row["result"],
                "tone": TONES.get(row["result"], "muted"),
                "first_name": response.get("first_name") or "",
                "undo_id": undo_id,
                # The client's random id of the scan, so the page pairs its offline copy.
                "nonce": row["nonce"] or "",
            }
        )
    return items


async def build_attendance_sheet(program: dict[str, Any], session_id: int | None) -> dict[str, Any]:
    """Everyone confirmed (and anyone checked in since cancelled) with their check-in time."""
    sessions = await list_checkin_sessions(program["id"])
    session = next((s for s in sessions if s["id"] == session_id), None)
    if session is None and sessions:
        session = open_session(program, sessions, datetime.now(UTC)) or sessions[0]
    registrations = (
        await Registration.select(
            Registration.id,
            Registration.full_name,
            Registration.kecamatan,
            Registration.school,
            Registration.status,
        )
        .where((Registration.program == program["id"]) & (Registration.status != "waitlisted"))
        .order_by(Registration.full_name)
        .run()
    )
    checkins: dict[int, dict[str, Any]] = {}
    if session:
        for row in (
            await CheckIn.select(
                CheckIn.registration,
                CheckIn.checked_in_at,
                CheckIn.source,
                CheckIn.scanner.name.as_alias("scanner_name"),
                CheckIn.scanner.email.as_alias("scanner_email"),
            )
            .where(CheckIn.session == session["id"])
            .run()
        ):
            checkins[row["registration"]] = row
    rows = []
    for reg in registrations:
        entry = checkins.get(reg["id"])
        if reg["status"] == "cancelled" and entry is None:
            continue
        rows.append(
            {
                **reg,
                "checked_in_at": entry["checked_in_at"] if entry else None,
                "source": entry["source"] if entry else "",
                "scanner": (entry["scanner_name"] or entry["scanner_email"] or "") if entry else "",
            }
        )
    return {
        "sessions": sessions,
        "session": session,
        "rows": rows,
        "checked_in": sum(1 for r in rows if r["checked_in_at"]),
        "expected": sum(1 for r in rows if r["status"] == "confirmed"),
    }


def render_attendance_csv(sheet: dict[str, Any], format_time: Any) -> str:
    """The attendance sheet as CSV for Excel; every cell neutralised against formulas."""
    header = [
        _("Name"),
        _("Kecamatan"),
        _("School or organisation"),
        _("Status"),
        _("Checked in at"),
        _("How"),
    ]
    return csv_text(
        header,
        (
            (
                row["full_name"],
                row["kecamatan"],
                row["school"],
                row["status"],
                format_time(row["checked_in_at"]) if row["checked_in_at"] else "",
                row["source"],
            )
            for row in sheet["rows"]
        ),
    )


# --------------------------------------------------------------------------- for other domains


async def checkins_by_registration(program_id: int) -> dict[int, list[dict[str, Any]]]:
    """A program's check-ins by registration, JSON-ready (registration's staff list and API)."""
    rows = (
        await CheckIn.select(
            CheckIn.registration, CheckIn.session, CheckIn.checked_in_at, CheckIn.source
        )
        .where(CheckIn.program == program_id)
        .order_by(CheckIn.checked_in_at)
        .run()
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["registration"], []).append(
            {
                "session_id": row["session"],
                "checked_in_at": _utc(row["checked_in_at"]).isoformat(),
                "source": row["source"],
            }
        )
    return found


async def checkins_of_ticket(registration: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One ticket's check-ins, JSON-ready, for its holder (`GET /api/v1/tickets/{code}`)."""
    rows = (
        await CheckIn.select(CheckIn.session, CheckIn.checked_in_at)
        .where(CheckIn.registration == registration["id"])
        .order_by(CheckIn.checked_in_at)
        .run()
    )
    return [
        {"session_id": r["session"], "checked_in_at": _utc(r["checked_in_at"]).isoformat()}
        for r in rows
    ]
