"""Registration rules: eligibility, seats and the waiting list, cancellation and promotion,
links to one's tickets, the staff's lists. Plain async functions, no HTTP.

Seats are counted by the program's own counters (catalog_program.seats_taken and
waitlist_taken), changed only by conditional UPDATEs inside one write transaction, in the
same transaction as the registration row and its message. On PostgreSQL the first UPDATE of
the program row also serialises everything that moves seats of that program.

A registration is the hot path (a rush of hundreds a minute): its reads and its write
transaction are hand-written statements run by youth_hub.sql (the transaction is a *unit*, a
generator of statements; on PostgreSQL usually one statement committed on its own, see
_REGISTER_AT_ONCE_PG). The seat and waiting-list rules that other writers share
(promotion, freeing a seat) are units too; inside a Piccolo transaction (a cancellation, the
catalogue's capacity change) `sql.run_within` runs them on that transaction's connection, so
each rule is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar.status_codes import (
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
)

from youth_hub import db, sql
from youth_hub.accounts import CurrentUser, Role, record_audit
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.i18n import current_language
from youth_hub.i18n import gettext as _
from youth_hub.messaging import (
    enqueue_message,
    enqueue_statement,
    insert_message_sql,
    message_values,
)
from youth_hub.registration.tables import MyTicketsLink, Registration
from youth_hub.registration.validators import (
    ADULT_AGE,
    Invalid,
    RegistrationInput,
    age_on,
    clean_email,
    clean_phone,
    validate_registration,
)
from youth_hub.sql import Statement
from youth_hub.web.errors import DomainError, FieldError, ValidationFailed
from youth_hub.web.formats import display_timezone, format_datetime

CONFIRMED = "confirmed"
WAITLISTED = "waitlisted"
CANCELLED = "cancelled"
STATUSES = (CONFIRMED, WAITLISTED, CANCELLED)
MY_LINK_TTL = timedelta(minutes=30)
_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")

# --------------------------------------------------------------------------- SQL
# Raw where the query builder cannot say it (arithmetic in SET, RETURNING of other columns,
# upserts); `{}` placeholders become `?` or `$n` for the engine.

# One conditional UPDATE decides: a seat when one is free and nobody waits (a seat freed by a
# bigger capacity goes to the waiting list first), else a place on the waiting list while it
# has room, else nothing (full, or no longer published). SET sees the old row on both
# databases; the new row tells which it was: waitlist_taken stays 0 only when a seat was taken.
_TAKE_PLACE_SQL = (
    "UPDATE catalog_program SET "
    "seats_taken = seats_taken + CASE WHEN seats_taken < capacity AND waitlist_taken = 0 "
    "THEN 1 ELSE 0 END, "
    "waitlist_taken = waitlist_taken + CASE WHEN seats_taken < capacity AND waitlist_taken = 0 "
    "THEN 0 ELSE 1 END "
    "WHERE id = {} AND status = 'published' AND ((seats_taken < capacity AND waitlist_taken = 0) "
    "OR waitlist_limit IS NULL OR waitlist_taken < waitlist_limit) "
    "RETURNING seats_taken, capacity, waitlist_taken"
)
_NEXT_WAITLIST_SEQ = Statement(
    "INSERT INTO registration_waitlist_counter (program, last_seq) VALUES ({}, 1) "
    "ON CONFLICT (program) DO UPDATE "
    "SET last_seq = registration_waitlist_counter.last_seq + 1 "
    "RETURNING last_seq"
)
# PostgreSQL only (SQLite has no data-modifying CTEs): the same decision, the next waiting-list
# number and the registration's place in one round trip, so the program row's lock, which
# every registration of the program waits for, is held for as short a time as possible.
_TAKE_PLACE = Statement(_TAKE_PLACE_SQL)
_TAKE_PLACE_PG = Statement(
    "WITH took AS (" + _TAKE_PLACE_SQL.replace("RETURNING ", "RETURNING id, ") + "), "
    "seq AS (INSERT INTO registration_waitlist_counter (program, last_seq) "
    "SELECT id, 1 FROM took WHERE waitlist_taken > 0 "
    "ON CONFLICT (program) DO UPDATE SET last_seq = registration_waitlist_counter.last_seq + 1 "
    "RETURNING last_seq), "
    "waiter AS (UPDATE registration_registration SET status = 'waitlisted', "
    "waitlist_seq = seq.last_seq FROM seq WHERE registration_registration.id = {} "
    "RETURNING registration_registration.waitlist_seq) "
    "SELECT took.seats_taken, took.capacity, took.waitlist_taken, "
    "(SELECT waitlist_seq FROM waiter) AS waitlist_seq FROM took"
)
_MOVE_WAITER_TO_SEAT = Statement(
    "UPDATE catalog_program SET seats_taken = seats_taken + 1, "
    "waitlist_taken = waitlist_taken - 1 "
    "WHERE id = {} AND seats_taken < capacity AND waitlist_taken > 0 RETURNING id"
)
_UNDO_MOVE_WAITER_TO_SEAT = Statement(
    "UPDATE catalog_program SET seats_taken = seats_taken - 1, "
    "waitlist_taken = waitlist_taken + 1 WHERE id = {}"
)
_FREE_SEAT = Statement(
    "UPDATE catalog_program SET seats_taken = seats_taken - 1 "
    "WHERE id = {} AND seats_taken > 0 RETURNING id"
)
_FREE_WAITLIST_PLACE = Statement(
    "UPDATE catalog_program SET waitlist_taken = waitlist_taken - 1 "
    "WHERE id = {} AND waitlist_taken > 0 RETURNING id"
)
_PROMOTE_FIRST_WAITER = Statement(
    "UPDATE registration_registration SET status = 'confirmed', promoted_at = {} "
    "WHERE id = (SELECT id FROM registration_registration "
    "WHERE program = {} AND status = 'waitlisted' ORDER BY waitlist_seq, id LIMIT 1) "
    "AND status = 'waitlisted' "
    "RETURNING id, code, email, full_name, language"
)
# The registrant's columns, in _person_values()' order.
_PERSON_COLUMNS = (
    "full_name, first_name, email, phone, birth_date, gender, kecamatan, village, school, "
    "guardian_name, guardian_phone, guardian_consent_at, language, created_at"
)
_PERSON_PLACEHOLDERS = ", ".join(["{}"] * 14)
_INSERT_REGISTRATION = Statement(
    "INSERT INTO registration_registration (code, program, status, waitlist_seq, "
    f"{_PERSON_COLUMNS}, promoted_at, cancelled_at) "
    f"VALUES ({{}}, {{}}, 'confirmed', NULL, {_PERSON_PLACEHOLDERS}, NULL, NULL) RETURNING id"
)
# PostgreSQL: the whole registration in one statement, committed on its own (a data-modifying
# WITH is atomic), so the program row's lock, which every registration of the program waits
# for, is held only while the server runs it: no round trip to us and back before COMMIT.
# The seat or waiting place (the same conditional UPDATE), the next waiting-list number, the
# row with its status, its message and, keyed, the idempotency answer. It acts only when the
# program has a free seat and nobody waits, or no free seat: seats free while people wait
# (a capacity just raised, promotions pending) is left to the unit, which fills them first.
_REGISTER_AT_ONCE_PG_SQL = (
    "WITH took AS ("
    + _TAKE_PLACE_SQL.replace("RETURNING ", "RETURNING id, ").replace(
        "WHERE id = {} AND status = 'published' AND ",
        "WHERE id = {} AND status = 'published' "
        "AND NOT (seats_taken < capacity AND waitlist_taken > 0) AND ",
    )
    + "), "
    "seq AS (INSERT INTO registration_waitlist_counter (program, last_seq) "
    "SELECT id, 1 FROM took WHERE waitlist_taken > 0 "
    "ON CONFLICT (program) DO UPDATE SET last_seq = registration_waitlist_counter.last_seq + 1 "
    "RETURNING last_seq), "
    "reg AS (INSERT INTO registration_registration (code, program, status, waitlist_seq, "
    f"{_PERSON_COLUMNS}, promoted_at, cancelled_at) "
    "SELECT {}, took.id, CASE WHEN took.waitlist_taken = 0 THEN 'confirmed' ELSE 'waitlisted' "
    f"END, (SELECT last_seq FROM seq), {_PERSON_PLACEHOLDERS}, NULL, NULL FROM took "
    "RETURNING id, code, status), "
    "msg AS ("
    + insert_message_sql(
        kind="CASE WHEN reg.status = 'confirmed' THEN 'confirmation' ELSE 'waitlisted' END",
        source="reg",
    )
    + ")"
)
_REGISTER_AT_ONCE_ANSWER = " SELECT reg.id, reg.status, took.waitlist_taken FROM reg, took"
_REGISTER_AT_ONCE_PG = Statement(_REGISTER_AT_ONCE_PG_SQL + _REGISTER_AT_ONCE_ANSWER)
_REGISTER_AT_ONCE_KEYED_PG = Statement(
    _REGISTER_AT_ONCE_PG_SQL + ", kept AS (INSERT INTO registration_idempotency "
    "(key, fingerprint, status_code, response, created_at) SELECT {}, {}, 201, "
    "json_build_object('code', reg.code, 'status', reg.status, 'waitlist_position', "
    "CASE WHEN reg.status = 'waitlisted' THEN took.waitlist_taken END, "
    "'ticket_url', {}::text), {} FROM reg, took)" + _REGISTER_AT_ONCE_ANSWER
)
_MAKE_WAITER = Statement(
    "UPDATE registration_registration SET status = 'waitlisted', waitlist_seq = {} WHERE id = {}"
)
_LOCK_PROGRAM_PG = Statement("SELECT id FROM catalog_program WHERE id = {} FOR UPDATE")
_WAITLIST_RANK = Statement(
    "SELECT COUNT(*) AS n FROM registration_registration "
    "WHERE program = {} AND status = 'waitlisted' AND waitlist_seq <= {}"
)
_LIVE_DUPLICATE = Statement(
    "SELECT id FROM registration_registration WHERE program = {} AND status <> 'cancelled' "
    "AND (email = {} OR phone = {}) LIMIT 1"
)
_REPLAY = Statement("SELECT fingerprint, response FROM registration_idempotency WHERE key = {}")
_REMEMBER = Statement(
    "INSERT INTO registration_idempotency (key, fingerprint, status_code, response, created_at) "
    "VALUES ({}, {}, 201, {}, {})"
)
_CANCEL = Statement(
    "UPDATE registration_registration SET status = 'cancelled', cancelled_at = {} "
    "WHERE id = {} AND status = {} RETURNING id"
)
_CONFIRM_WAITER = Statement(
    "UPDATE registration_registration SET status = 'confirmed', promoted_at = {} "
    "WHERE id = {} AND status = 'waitlisted' RETURNING id"
)


async def _sql(statement: Statement, *args: Any) -> sql.Rows:
    """One statement inside the current Piccolo write transaction."""
    return await sql.run_within(sql.single(statement, *args))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RegistrationResult:
    code: str
    status: str  # "confirmed" or "waitlisted"
    waitlist_position: int | None
    ticket_url: str

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "waitlist_position": self.waitlist_position,
            "ticket_url": self.ticket_url,
        }


@dataclass(frozen=True)
class Eligibility:
    """Whether a program takes registrations now, and what to tell people if not."""

    open: bool
    code: str | None = None
    message: str = ""
    status_code: int = HTTP_409_CONFLICT
    seats_left: int = 0
    waitlist_only: bool = False  # full, but the waiting list takes more

    def raise_if_closed(self) -> None:
        if not self.open:
            raise DomainError(self.code or "closed", self.message, self.status_code)


def ticket_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/tickets/{code}"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- programs

# Raw: this runs on every registration, and the query builder costs more CPU than the query.
_SELECT_PROGRAM_SQL = (
    "SELECT id, slug, title, kind, status, organiser, capacity, seats_taken, waitlist_limit, "
    "waitlist_taken, age_min, age_max, registration_opens_at, registration_closes_at, "
    "first_starts_at, last_ends_at, venue, price_idr FROM catalog_program WHERE slug = {}"
)
# The same, plus whether this email or phone already holds a live registration there: one
# round trip settles "already registered" (the unique indexes remain the guard under races).
_SELECT_PROGRAM = Statement(_SELECT_PROGRAM_SQL)
_SELECT_PROGRAM_AND_DUPLICATE = Statement(
    _SELECT_PROGRAM_SQL.replace(
        " FROM catalog_program WHERE",
        ", EXISTS (SELECT 1 FROM registration_registration r WHERE r.program = catalog_program.id "
        "AND r.status <> 'cancelled' AND (r.email = {} OR r.phone = {})) AS duplicate "
        "FROM catalog_program WHERE",
    )
)


def program_not_found() -> DomainError:
    return DomainError(
        "program_not_found",
        _("This program does not exist or is not open to the public."),
        HTTP_404_NOT_FOUND,
    )


async def get_program(
    slug: Any, *, email: str | None = None, phone: str | None = None
) -> dict[str, Any] | None:
    """A program by slug (any status), with its first session's start filled in. Given an
    email and phone, also `duplicate`: whether they hold a live registration there."""
    if not isinstance(slug, str) or not slug or len(slug) > 120:
        return None
    if email is not None or phone is not None:
        rows = await sql.fetch(_SELECT_PROGRAM_AND_DUPLICATE, email or "", phone or "", slug)
    else:
        rows = await sql.fetch(_SELECT_PROGRAM, slug)
    if not rows:
        return None
    row = dict(rows[0])
    if "duplicate" in row:
        row["duplicate"] = bool(row["duplicate"])
    for key in (
        "registration_opens_at",
        "registration_closes_at",
        "first_starts_at",
        "last_ends_at",
    ):
        row[key] = _aware(row[key])
    if row["first_starts_at"] is None:  # catalog normally keeps it; sessions are the truth
        first = (
            await ProgramSession.select(ProgramSession.starts_at)
            .where(ProgramSession.program == row["id"])
            .order_by(ProgramSession.starts_at)
            .first()
            .run()
        )
        row["first_starts_at"] = _aware(first["starts_at"]) if first else None
    return row


async def get_public_program(
    slug: Any, *, email: str | None = None, phone: str | None = None
) -> dict[str, Any]:
    """A program the public may see (not a draft), or 404."""
    program = await get_program(slug, email=email, phone=phone)
    if program is None or program["status"] == "draft":
        raise program_not_found()
    return program


def program_event_date(program: Mapping[str, Any]) -> date | None:
    """The date, in the regency's time zone, of the program's first session: ages count there."""
    starts = program.get("first_starts_at")
    return starts.astimezone(display_timezone()).date() if starts else None


def eligibility(program: Mapping[str, Any], now: datetime) -> Eligibility:
    """Can one register now? The order of the checks is the order people understand them."""
    status = program["status"]
    if status == "draft":
        return Eligibility(
            False, "program_not_found", program_not_found().message, HTTP_404_NOT_FOUND
        )
    if status == "cancelled":
        return Eligibility(
            False,
            "program_cancelled",
            _("This program has been cancelled; registration is closed."),
        )
    last_ends = program.get("last_ends_at")
    if status == "finished" or (last_ends is not None and last_ends <= now):
        return Eligibility(
            False, "program_finished", _("This program has finished; registration is closed.")
        )
    if status != "published":
        return Eligibility(
            False, "program_not_found", program_not_found().message, HTTP_404_NOT_FOUND
        )
    opens = program.get("registration_opens_at")
    if opens is not None and now < opens:
        return Eligibility(
            False,
            "registration_not_open",
            _("Registration opens on %(when)s.", when=format_datetime(opens)),
        )
    closes = program.get("registration_closes_at")
    if closes is not None and now >= closes:
        return Eligibility(
            False,
            "registration_closed",
            _("Registration closed on %(when)s.", when=format_datetime(closes)),
        )
    starts = program.get("first_starts_at")
    if starts is not None and now >= starts:
        return Eligibility(
            False,
            "registration_closed",
            _("The program has already started; registration is closed."),
        )
    seats_left = max(0, program["capacity"] - program["seats_taken"])
    if seats_left and not program["waitlist_taken"]:
        return Eligibility(True, seats_left=seats_left)
    limit = program["waitlist_limit"]
    if limit is None or program["waitlist_taken"] < limit:
        return Eligibility(True, seats_left=seats_left, waitlist_only=True)
    return Eligibility(False, "full", _full_message())


def _full_message() -> str:
    return _("All seats and the waiting list are taken.")


def _duplicate_error() -> DomainError:
    # Never the existing ticket's code: whoever typed this email may not be its owner.
    return DomainError(
        "duplicate_registration",
        _(
            "This email or phone number is already registered for this program. "
            'Find your ticket through "My tickets".'
        ),
        HTTP_409_CONFLICT,
        extra={"my_tickets_url": "/my"},
    )


# --------------------------------------------------------------------------- idempotency


def _key_hash(program_id: int, key: str) -> str:
    return hashlib.sha256(f"{program_id}:{key}".encode()).hexdigest()


def _fingerprint(email: str, phone: str) -> str:
    return hashlib.sha256(f"{email}\n{phone}".encode()).hexdigest()


def check_idempotency_key(key: Any, field: str = "Idempotency-Key") -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise DomainError(
            "invalid_idempotency_key",
            _("The %(field)s must be 1 to 200 visible ASCII characters.", field=field),
            HTTP_422_UNPROCESSABLE_ENTITY,
            errors=[FieldError(field, _("Use 1 to 200 visible ASCII characters."))],
        )
    return key


async def _replayed(key_hash: str, fingerprint: str) -> RegistrationResult | None:
    rows = await sql.fetch(_REPLAY, key_hash)
    if not rows:
        return None
    row = rows[0]
    if row["fingerprint"] != fingerprint:
        raise DomainError(
            "idempotency_key_reused",
            _(
                "This form was already sent with other details. Reload the page to register "
                "someone else."
            ),
            HTTP_422_UNPROCESSABLE_ENTITY,
            errors=[FieldError("form_token", _("Already used for another registration."))],
        )
    answer = row["response"]
    if isinstance(answer, str | bytes):  # a JSON column comes back as text on both databases
        answer = json.loads(answer)
    return RegistrationResult(
        code=answer["code"],
        status=answer["status"],
        waitlist_position=answer["waitlist_position"],
        ticket_url=answer["ticket_url"],
    )


def _is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"


# --------------------------------------------------------------------------- registering


Throttle = Callable[[RegistrationInput], Awaitable[None]]


async def register_participant(
    program_slug: str,
    data: Mapping[str, Any],
    *,
    base_url: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    throttle: Throttle | None = None,
) -> RegistrationResult:
    """Register someone for a program: a confirmed seat, or a numbered place on the waiting
    list. With an `idempotency_key`, a retry answers as the first call did and adds nothing.
    `throttle` (the per-email/phone rate limit) runs on fresh attempts only, not on replays."""
    now = now or datetime.now(UTC)
    if idempotency_key is not None:
        idempotency_key = check_idempotency_key(idempotency_key)
    email, phone = _normalised_or_blank(data)
    program = await get_public_program(program_slug, email=email, phone=phone)
    event_date = program_event_date(program)
    today = now.astimezone(display_timezone()).date()
    clean, errors, code = validate_registration(
        data,
        today=today,
        event_date=event_date,
        age_min=program["age_min"],
        age_max=program["age_max"],
    )
    if clean is None:
        if code == "invalid":
            raise ValidationFailed(errors)
        message = (
            errors[0].message
            if code == "age_out_of_range"
            else _("A parent or guardian must agree for participants under 18.")
        )
        raise DomainError(code or "invalid", message, HTTP_422_UNPROCESSABLE_ENTITY, errors)

    fingerprint = _fingerprint(clean.email, clean.phone)
    key_hash = _key_hash(program["id"], idempotency_key) if idempotency_key else None
    if key_hash is not None:
        replay = await _replayed(key_hash, fingerprint)
        if replay is not None:
            return replay
    state = eligibility(program, now)
    if state.code != "full":
        state.raise_if_closed()
    if throttle is not None:
        await throttle(clean)
    if program["duplicate"]:
        raise _duplicate_error()
    if not state.open:
        # Full when we looked a moment ago: refusing needs no write (a read cannot oversell).
        raise DomainError("full", _full_message(), HTTP_409_CONFLICT)

    minor = event_date is not None and age_on(clean.birth_date, event_date) < ADULT_AGE
    postgres = not db.is_sqlite(db.current_engine())
    try:
        async with _write_gate(postgres):
            if postgres:
                done = await _register_at_once(
                    program["id"],
                    clean,
                    minor=minor,
                    now=now,
                    base_url=base_url,
                    key_hash=key_hash,
                    fingerprint=fingerprint,
                )
                if done is not None:
                    return done
            return await sql.run(
                _register(
                    program,
                    clean,
                    minor=minor,
                    now=now,
                    base_url=base_url,
                    key_hash=key_hash,
                    fingerprint=fingerprint,
                    postgres=postgres,
                )
            )
    except _NoPlace:
        # Full, or closed meanwhile (the UPDATE checks the status): say which.
        current = await get_program(program["slug"])
        if current is not None:
            eligibility(current, now).raise_if_closed()
        raise DomainError("full", _full_message(), HTTP_409_CONFLICT) from None
    except Exception as exc:
        if not _is_unique_violation(exc):
            raise
        # Lost a race: the same key (a double tap) or the same person, committed first.
        if key_hash is not None:
            replay = await _replayed(key_hash, fingerprint)
            if replay is not None:
                return replay
        if await _live_duplicate(program["id"], clean.email, clean.phone):
            raise _duplicate_error() from None
        raise


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
# SQLite: one writer at a time anyway, and youth_hub.sql queues a process's writers itself.
WRITE_GATE_POSTGRES = 8  # below the pool's 10 connections: reads never starve behind writers


def _write_gate(postgres: bool) -> asyncio.Semaphore | contextlib.AbstractAsyncContextManager[None]:
    """Few registration transactions at once per worker on PostgreSQL. Everything that takes a
    seat waits for the program row anyway; queueing here, not there, keeps the one holding the
    lock from waiting behind dozens of other requests in the event loop."""
    if not postgres:
        return contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(WRITE_GATE_POSTGRES)
    return gate


def _normalised_or_blank(data: Mapping[str, Any]) -> tuple[str, str]:
    """The email and phone as stored, or "" when not valid (validation reports them)."""
    try:
        email = clean_email(data.get("email"))
    except Invalid:
        email = ""
    try:
        phone = clean_phone(data.get("phone"))
    except Invalid:
        phone = ""
    return email, phone


async def _live_duplicate(program_id: int, email: str, phone: str) -> bool:
    return bool(await sql.fetch(_LIVE_DUPLICATE, program_id, email, phone))


class _NoPlace(Exception):
    """No seat and no waiting place (full, or no longer published): roll back, then say why."""


def _person_values(
    clean: RegistrationInput, *, minor: bool, now: datetime, language: str
) -> list[Any]:
    """The registrant's columns (_PERSON_COLUMNS) as stored. Consent is recorded (with its
    time) only for a minor whose guardian agreed."""
    return [
        clean.full_name,
        clean.first_name,
        clean.email,
        clean.phone,
        clean.birth_date,
        clean.gender,
        clean.kecamatan,
        clean.village,
        clean.school,
        clean.guardian_name,
        clean.guardian_phone,
        now if (minor and clean.guardian_consent) else None,
        language,
        now,
    ]


async def _register_at_once(
    program_id: int,
    clean: RegistrationInput,
    *,
    minor: bool,
    now: datetime,
    base_url: str,
    key_hash: str | None,
    fingerprint: str,
) -> RegistrationResult | None:
    """PostgreSQL: the registration in one statement of its own (_REGISTER_AT_ONCE_PG); None
    when it did nothing (no seat nor waiting place, or free seats while people wait): then
    the unit decides, and says why."""
    code = secrets.token_urlsafe(18)
    language = current_language()
    url = ticket_url(base_url, code)
    message = message_values(
        kind="confirmation",  # or waitlisted: the statement picks the kind by the outcome
        to_email=clean.email,
        to_name=clean.full_name,
        language=language,
        ticket_code=code,
        program_id=program_id,
        base_url=base_url,
    )[1:]
    args = [program_id, code, *_person_values(clean, minor=minor, now=now, language=language)]
    args += message
    if key_hash is None:
        rows = await sql.execute(_REGISTER_AT_ONCE_PG, *args)
    else:
        rows = await sql.execute(_REGISTER_AT_ONCE_KEYED_PG, *args, key_hash, fingerprint, url, now)
    if not rows:
        return None
    row = rows[0]
    if row["status"] == CONFIRMED:
        return RegistrationResult(code, CONFIRMED, None, url)
    return RegistrationResult(code, WAITLISTED, int(row["waitlist_taken"]), url)


def _register(
    program: Mapping[str, Any],
    clean: RegistrationInput,
    *,
    minor: bool,
    now: datetime,
    base_url: str,
    key_hash: str | None,
    fingerprint: str,
    postgres: bool,
) -> sql.Unit[RegistrationResult]:
    """One write transaction (a youth_hub.sql unit): the row, the seat or waiting place, the
    message that depends on it, the idempotency answer. _NoPlace (rolled back) when there is
    neither a seat nor a waiting place."""
    program_id = program["id"]
    code = secrets.token_urlsafe(18)
    language = current_language()
    url = ticket_url(base_url, code)
    # A live duplicate (same email or phone) fails right here, on the unique indexes.
    rows = yield (
        _INSERT_REGISTRATION,
        (code, program_id, *_person_values(clean, minor=minor, now=now, language=language)),
    )
    registration_id = rows[0]["id"]
    took = yield from _take_place(program_id, registration_id, postgres=postgres)
    if took is None:
        raise _NoPlace()
    status = CONFIRMED if took["waitlist_taken"] == 0 else WAITLISTED
    position = None if status == CONFIRMED else int(took["waitlist_taken"])
    if status == WAITLISTED and took["seats_taken"] < took["capacity"]:
        # A seat came free while nobody waited and our UPDATE missed it (a race), or the
        # capacity grew: the waiting list moves up, in order, before we answer.
        promoted = yield from _fill_free_seats_unit(
            program_id, now=now, base_url=base_url, skip_message_for=registration_id
        )
        if registration_id in promoted:
            status, position = CONFIRMED, None
        elif promoted:
            ranked = yield _WAITLIST_RANK, (program_id, took["waitlist_seq"])
            position = int(ranked[0]["n"])
    result = RegistrationResult(code, status, position, url)
    yield enqueue_statement(
        kind="confirmation" if status == CONFIRMED else "waitlisted",
        to_email=clean.email,
        to_name=clean.full_name,
        language=language,
        ticket_code=code,
        program_id=program_id,
        base_url=base_url,
    )
    if key_hash is not None:
        yield _REMEMBER, (key_hash, fingerprint, json.dumps(result.as_json()), now)
    return result


def _take_place(
    program_id: int, registration_id: int, *, postgres: bool
) -> sql.Unit[dict[str, Any] | None]:
    """Inside the write transaction: a seat or a waiting place for this registration (its
    status and waitlist_seq set accordingly), or None when there is neither."""
    if postgres:
        rows = yield _TAKE_PLACE_PG, (program_id, registration_id)
        return dict(rows[0]) if rows else None
    rows = yield _TAKE_PLACE, (program_id,)
    if not rows:
        return None
    took = dict(rows[0])
    took["waitlist_seq"] = None
    if took["waitlist_taken"] > 0:
        numbered = yield _NEXT_WAITLIST_SEQ, (program_id,)
        took["waitlist_seq"] = int(numbered[0]["last_seq"])
        yield _MAKE_WAITER, (took["waitlist_seq"], registration_id)
    return took


def _promote_first(program_id: int, now: datetime) -> sql.Unit[dict[str, Any] | None]:
    rows = yield _PROMOTE_FIRST_WAITER, (now, program_id)
    return rows[0] if rows else None


def _promoted_message(
    row: Mapping[str, Any], program_id: int, base_url: str
) -> tuple[Statement, Sequence[Any]]:
    return enqueue_statement(
        kind="promoted",
        to_email=row["email"],
        to_name=row["full_name"],
        language=row["language"],
        ticket_code=row["code"],
        program_id=program_id,
        base_url=base_url,
    )


async def _send_promoted(row: Mapping[str, Any], program_id: int, base_url: str) -> None:
    """In the current Piccolo write transaction."""
    statement, args = _promoted_message(row, program_id, base_url)
    await _sql(statement, *args)


def _fill_free_seats_unit(
    program_id: int, *, now: datetime, base_url: str, skip_message_for: int | None = None
) -> sql.Unit[list[int]]:
    """Inside a write transaction: give every free seat to the waiting list, in order."""
    promoted: list[int] = []
    while (yield _MOVE_WAITER_TO_SEAT, (program_id,)):
        row = yield from _promote_first(program_id, now)
        if row is None:  # the counter said someone waits, nobody does: leave it as it was
            yield _UNDO_MOVE_WAITER_TO_SEAT, (program_id,)
            break
        promoted.append(row["id"])
        if row["id"] != skip_message_for:
            yield _promoted_message(row, program_id, base_url)
    return promoted


async def _fill_free_seats(
    program_id: int, *, now: datetime, base_url: str, skip_message_for: int | None = None
) -> list[int]:
    """In the current Piccolo write transaction (the catalogue's, when a capacity grows)."""
    return await sql.run_within(
        _fill_free_seats_unit(
            program_id, now=now, base_url=base_url, skip_message_for=skip_message_for
        )
    )


async def fill_free_seats(program_slug: str, *, base_url: str, now: datetime | None = None) -> int:
    """Promote from the waiting list into every free seat (after the capacity grew).
    Returns how many were promoted."""
    program = await get_program(program_slug)
    if program is None:
        raise program_not_found()
    promoted = await sql.run(
        _fill_free_seats_unit(program["id"], now=now or datetime.now(UTC), base_url=base_url)
    )
    return len(promoted)


# --------------------------------------------------------------------------- reading


async def code_of(program_id: int, registration_id: int) -> str | None:
    """The ticket code of a program's registration by id (staff pages use ids, not codes)."""
    row = (
        await Registration.select(Registration.code)
        .where((Registration.id == registration_id) & (Registration.program == program_id))
        .first()
        .run()
    )
    return row["code"] if row else None


def _valid_code(code: Any) -> bool:
    return isinstance(code, str) and _CODE_RE.match(code) is not None


_REGISTRATION_COLUMNS = (
    Registration.id,
    Registration.code,
    Registration.program,
    Registration.status,
    Registration.waitlist_seq,
    Registration.full_name,
    Registration.first_name,
    Registration.email,
    Registration.phone,
    Registration.birth_date,
    Registration.gender,
    Registration.kecamatan,
    Registration.village,
    Registration.school,
    Registration.guardian_name,
    Registration.guardian_phone,
    Registration.guardian_consent_at,
    Registration.language,
    Registration.created_at,
    Registration.promoted_at,
    Registration.cancelled_at,
)


async def get_registration(code: Any) -> dict[str, Any] | None:
    """A registration by its ticket code, with `waitlist_position` and the program's
    `program_slug`, `program_title`, `program_first_starts_at`; None if there is none."""
    if not _valid_code(code):
        return None
    row: dict[str, Any] | None = (
        await Registration.select(
            *_REGISTRATION_COLUMNS,
            Registration.program.slug.as_alias("program_slug"),
            Registration.program.title.as_alias("program_title"),
            Registration.program.first_starts_at.as_alias("program_first_starts_at"),
        )
        .where(Registration.code == code)
        .first()
        .run()
    )
    if row is None:
        return None
    row["waitlist_position"] = await waitlist_position(row)
    return row


async def waitlist_position(registration: Mapping[str, Any]) -> int | None:
    """1..N among the program's live waiting list, in order of arrival; None if not waiting."""
    if registration.get("status") != WAITLISTED or registration.get("waitlist_seq") is None:
        return None
    count: int = (
        await Registration.count()
        .where(
            (Registration.program == registration["program"])
            & (Registration.status == WAITLISTED)
            & (Registration.waitlist_seq <= registration["waitlist_seq"])
        )
        .run()
    )
    return count


# --------------------------------------------------------------------------- staff rights


def can_manage(user: CurrentUser | None, program: Mapping[str, Any]) -> bool:
    """Its organiser, dinporapar or admin; never a scanner."""
    if user is None or not user.at_least(Role.ORGANISER):
        return False
    return user.is_office or program.get("organiser") == user.id


async def program_for_staff(slug: Any, user: CurrentUser) -> dict[str, Any]:
    """The program if this staff member may manage it; 404 otherwise (another organiser's
    program is not even confirmed to exist)."""
    program = await get_program(slug)
    if program is None or not can_manage(user, program):
        raise DomainError(
            "program_not_found", _("This program does not exist."), HTTP_404_NOT_FOUND
        )
    return program


# --------------------------------------------------------------------------- cancelling


def ticket_not_found() -> DomainError:
    return DomainError("ticket_not_found", _("This ticket does not exist."), HTTP_404_NOT_FOUND)


async def cancel_registration(
    code: str,
    *,
    base_url: str,
    actor: CurrentUser | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Cancel a confirmed or waitlisted registration. A freed seat goes at once, in the same
    transaction, to the first on the waiting list. Returns {"code", "status", "promoted"}
    (promoted: whether someone moved up; never who)."""
    now = now or datetime.now(UTC)
    if not _valid_code(code):
        raise ticket_not_found()
    async with db.write_transaction():
        found = (
            await Registration.select(Registration.id, Registration.program)
            .where(Registration.code == code)
            .first()
            .run()
        )
        if found is None:
            raise ticket_not_found()
        program_id = found["program"]
        if actor is not None:
            program = (
                await Program.select(Program.id, Program.organiser)
                .where(Program.id == program_id)
                .first()
                .run()
            )
            if program is None or not can_manage(actor, program):
                raise ticket_not_found()
        if not db.is_sqlite(db.current_engine()):
            # Every change of this program's seats waits here, so promotions never collide.
            await _sql(_LOCK_PROGRAM_PG, program_id)
        row = (
            await Registration.select(
                Registration.id,
                Registration.status,
                Registration.email,
                Registration.full_name,
                Registration.language,
            )
            .where(Registration.id == found["id"])
            .first()
            .run()
        )
        assert row is not None
        if row["status"] == CANCELLED:
            raise DomainError(
                "already_cancelled", _("This ticket is already cancelled."), HTTP_409_CONFLICT
            )
        if not await _sql(_CANCEL, now, row["id"], row["status"]):
            raise DomainError(
                "already_cancelled", _("This ticket is already cancelled."), HTTP_409_CONFLICT
            )
        promoted = None
        if row["status"] == CONFIRMED:
            promoted = await sql.run_within(_promote_first(program_id, now))
            # A waiter takes the seat (seats unchanged, one fewer waiting), or the seat frees.
            await _sql(_FREE_WAITLIST_PLACE if promoted else _FREE_SEAT, program_id)
        else:
            await _sql(_FREE_WAITLIST_PLACE, program_id)
        await enqueue_message(
            kind="cancelled",
            to_email=row["email"],
            to_name=row["full_name"],
            language=row["language"],
            ticket_code=code,
            program_id=program_id,
            base_url=base_url,
        )
        if promoted is not None:
            await _send_promoted(promoted, program_id, base_url)
        if actor is not None:
            await record_audit(
                actor,
                "registration.cancel",
                f"registration:{row['id']}",
                {"program": program_id, "promoted": promoted is not None},
            )
    return {"code": code, "status": CANCELLED, "promoted": promoted is not None}


async def promote_registration(
    code: str,
    *,
    base_url: str,
    actor: CurrentUser | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Staff give a free seat to someone on the waiting list (any place, their choice)."""
    now = now or datetime.now(UTC)
    if not _valid_code(code):
        raise ticket_not_found()
    async with db.write_transaction():
        row = (
            await Registration.select(
                Registration.id,
                Registration.program,
                Registration.status,
                Registration.code,
                Registration.email,
                Registration.full_name,
                Registration.language,
                Registration.program.organiser.as_alias("organiser"),
            )
            .where(Registration.code == code)
            .first()
            .run()
        )
        if row is None or (actor is not None and not can_manage(actor, row)):
            raise ticket_not_found()
        if row["status"] != WAITLISTED:
            raise DomainError(
                "not_waitlisted",
                _("Only someone on the waiting list can be given a seat."),
                HTTP_409_CONFLICT,
            )
        if not await _sql(_MOVE_WAITER_TO_SEAT, row["program"]):
            raise DomainError(
                "no_free_seat", _("There is no free seat in this program."), HTTP_409_CONFLICT
            )
        if not await _sql(_CONFIRM_WAITER, now, row["id"]):
            raise DomainError(
                "not_waitlisted",
                _("Only someone on the waiting list can be given a seat."),
                HTTP_409_CONFLICT,
            )
        await _send_promoted(row, row["program"], base_url)
        if actor is not None:
            await record_audit(
                actor,
                "registration.promote",
                f"registration:{row['id']}",
                {"program": row["program"]},
            )
    return {"code": code, "status": CONFIRMED}


# --------------------------------------------------------------------------- my tickets


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_my_tickets_link(
    email: Any, *, base_url: str, now: datetime | None = None
) -> None:
    """Mail a single-use link to all of this email's tickets, if it has any. Says nothing
    either way (the caller answers the same), so no one learns who registered."""
    now = now or datetime.now(UTC)
    try:
        address = clean_email(email)
    except Invalid as exc:
        raise ValidationFailed([FieldError("email", str(exc))], message=str(exc)) from None
    has_tickets = await Registration.exists().where(Registration.email == address).run()
    token = secrets.token_urlsafe(32)
    async with db.write_transaction():
        # A link row either way: the answer takes as long with tickets as without.
        await MyTicketsLink.insert(
            MyTicketsLink(
                token_hash=_token_hash(token),
                email=address,
                expires_at=now + MY_LINK_TTL,
                created_at=now,
            )
        ).run()
        if has_tickets:
            await enqueue_message(
                kind="my_tickets",
                to_email=address,
                base_url=base_url,
                language=current_language(),
                context={
                    "link": f"{base_url.rstrip('/')}/my/{token}",
                    "valid_minutes": int(MY_LINK_TTL.total_seconds() // 60),
                },
            )


async def my_tickets_link_is_valid(token: Any, *, now: datetime | None = None) -> bool:
    """Whether a link can still be opened, without using it up (GET changes nothing)."""
    now = now or datetime.now(UTC)
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return False
    return bool(
        await MyTicketsLink.exists()
        .where(
            (MyTicketsLink.token_hash == _token_hash(token))
            & MyTicketsLink.used_at.is_null()
            & (MyTicketsLink.expires_at > now)
        )
        .run()
    )


async def consume_my_tickets_link(token: Any, *, now: datetime | None = None) -> str | None:
    """The email a link was sent to, once: used or expired links give None."""
    now = now or datetime.now(UTC)
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    rows = (
        await MyTicketsLink.update({MyTicketsLink.used_at: now})
        .where(
            (MyTicketsLink.token_hash == _token_hash(token))
            & MyTicketsLink.used_at.is_null()
            & (MyTicketsLink.expires_at > now)
        )
        .returning(MyTicketsLink.email)
        .run()
    )
    return rows[0]["email"] if rows else None


async def tickets_for_email(email: str) -> list[dict[str, Any]]:
    """Every registration of this email, newest program first, with its program."""
    rows: list[dict[str, Any]] = (
        await Registration.select(
            Registration.code,
            Registration.status,
            Registration.waitlist_seq,
            Registration.program,
            Registration.created_at,
            Registration.program.slug.as_alias("program_slug"),
            Registration.program.title.as_alias("program_title"),
            Registration.program.first_starts_at.as_alias("program_first_starts_at"),
        )
        .where(Registration.email == email)
        .order_by(Registration.created_at, ascending=False)
        .run()
    )
    for row in rows:
        row["program_first_starts_at"] = _aware(row["program_first_starts_at"])
        row["waitlist_position"] = await waitlist_position(row)
    return rows


# --------------------------------------------------------------------------- staff lists

CheckinReader = Callable[[int], Awaitable[Mapping[int, list[dict[str, Any]]]]]
_checkin_reader: list[CheckinReader] = []


def register_checkin_reader(reader: CheckinReader) -> CheckinReader:
    """The checkin domain (which depends on this one, not the other way) tells us how to read
    a program's check-ins: reader(program_id) -> {registration_id: [check-in dicts]}."""
    _checkin_reader[:] = [reader]
    return reader


async def checkins_by_registration(program_id: int) -> Mapping[int, list[dict[str, Any]]]:
    if not _checkin_reader:
        return {}
    return await _checkin_reader[0](program_id)


PER_PAGE = 25


async def _waitlist_ranks(program_id: int) -> dict[int, int]:
    rows = (
        await Registration.select(Registration.id)
        .where((Registration.program == program_id) & (Registration.status == WAITLISTED))
        .order_by(Registration.waitlist_seq)
        .order_by(Registration.id)
        .run()
    )
    return {row["id"]: rank for rank, row in enumerate(rows, start=1)}


def _contains(column: Any, text: str) -> Any:
    # SQLite's LIKE already ignores ASCII case (and Piccolo warns about ILIKE there).
    pattern = f"%{text}%"
    return column.like(pattern) if db.is_sqlite(db.current_engine()) else column.ilike(pattern)


def _search_clause(q: str) -> Any:
    clause = _contains(Registration.full_name, q) | _contains(Registration.email, q)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3:
        national = (
            digits[1:]
            if digits.startswith("0")
            else (digits[2:] if digits.startswith("62") else digits)
        )
        clause = clause | _contains(Registration.phone, national)
    return clause


async def list_registrations(
    program: Mapping[str, Any],
    *,
    q: str = "",
    status: str = "",
    page: int = 1,
    per_page: int | None = PER_PAGE,
) -> tuple[list[dict[str, Any]], int]:
    """(rows, total) of a program's registrations for staff, with waiting-list positions and
    the age at the program's date. `per_page=None`: all (exports)."""
    where = Registration.program == program["id"]
    q = q.strip()[:100]
    if q:
        where = where & _search_clause(q)
    if status in STATUSES:
        where = where & (Registration.status == status)
    total: int = await Registration.count().where(where).run()
    query = (
        Registration.select(*_REGISTRATION_COLUMNS)
        .where(where)
        .order_by(Registration.created_at)
        .order_by(Registration.id)
    )
    if per_page is not None:
        page = max(1, page)
        query = query.limit(per_page).offset((page - 1) * per_page)
    rows: list[dict[str, Any]] = await query.run()
    ranks = await _waitlist_ranks(program["id"])
    event_date = program_event_date(program)
    for row in rows:
        row["waitlist_position"] = ranks.get(row["id"])
        row["age"] = age_on(row["birth_date"], event_date) if event_date else None
        for key in ("guardian_consent_at", "created_at", "promoted_at", "cancelled_at"):
            row[key] = _aware(row[key])
    return rows, total


# --------------------------------------------------------------------------- rate limits


def too_many_attempts(field: str) -> DomainError:
    message = _("Too many attempts with this email or phone number. Wait 10 minutes and try again.")
    return DomainError(
        "too_many_attempts",
        message,
        HTTP_429_TOO_MANY_REQUESTS,
        errors=[FieldError(field, message)],
    )
