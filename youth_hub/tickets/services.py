"""The rules of tickets: what a ticket shows, when it has a QR, how it is cancelled.

Registration owns the rows (status, waiting list, cancelling); this module reads them through
`youth_hub.registration` and adds the program, its schedule, the signed QR text and the
check-ins (which the checkin domain supplies through `register_checkins_provider`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from youth_hub import db, sql
from youth_hub.sql import Statement
from youth_hub.tickets.calendar import program_ics
from youth_hub.tickets.signing import sign_ticket

# Codes are secrets.token_urlsafe output; anything else is refused before touching the database
# (a NUL byte or a 10 kB path must be a 404, never a driver error).
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")

STATUSES = ("confirmed", "waitlisted", "cancelled")

CheckinsProvider = Callable[[Mapping[str, Any]], Awaitable[list[dict[str, Any]]]]
_checkins_providers: list[CheckinsProvider] = []


def register_checkins_provider(provider: CheckinsProvider) -> CheckinsProvider:
    """The checkin domain registers here what a ticket's `checkins` list holds.

    `provider(registration)` gets the registration row (dict) and returns JSON-ready dicts
    (e.g. {"session_id", "checked_in_at"}); tickets cannot import checkin (it sits above).
    """
    if provider not in _checkins_providers:
        _checkins_providers.append(provider)
    return provider


def unregister_checkins_provider(provider: CheckinsProvider) -> None:
    if provider in _checkins_providers:
        _checkins_providers.remove(provider)


async def ticket_checkins(registration: Mapping[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for provider in list(_checkins_providers):
        items.extend(await provider(registration))
    return items


@dataclass
class Ticket:
    code: str
    status: str
    registration: dict[str, Any]
    program: dict[str, Any]
    sessions: list[dict[str, Any]]
    waitlist_position: int | None = None
    qr_text: str | None = None
    checkins: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_qr(self) -> bool:
        return self.qr_text is not None

    @property
    def program_cancelled(self) -> bool:
        return self.program.get("status") == "cancelled"

    @property
    def changed_at(self) -> datetime | None:
        moments = [self.registration.get(k) for k in ("cancelled_at", "promoted_at", "created_at")]
        found = [m for m in moments if isinstance(m, datetime)]
        return max(found) if found else None


def valid_code(code: str) -> bool:
    return bool(CODE_PATTERN.fullmatch(code))


async def program_with_sessions(
    registration: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ticket's program and its sessions (by position), through catalog's own reader."""
    from youth_hub.catalog import get_program_detail

    detail = await get_program_detail(str(registration.get("program_slug") or ""))
    # A draft again (catalog hides it) or a race with a delete: the ticket is not shown.
    if detail is None or detail["id"] != registration.get("program"):
        raise LookupError(registration.get("program"))
    sessions = list(detail.get("sessions") or [])
    return detail, sessions


def qr_text_for(
    data_dir: Path, registration: Mapping[str, Any], program: Mapping[str, Any]
) -> str | None:
    """The signed QR text, only for a confirmed ticket of a program that still takes place."""
    if registration.get("status") != "confirmed" or program.get("status") == "cancelled":
        return None
    return sign_ticket(data_dir, int(registration["id"]), int(program["id"]))


# A ticket page is read on every visit of its holder: the registration as
# youth_hub.registration.get_registration gives it (its columns, the program's slug, title and
# start, the waiting-list position), written once by hand in one statement (see youth_hub.sql).
_REGISTRATION_BY_CODE = Statement(
    """
SELECT r.id, r.code, r.program, r.status, r.waitlist_seq, r.full_name, r.first_name, r.email,
       r.phone, r.birth_date, r.gender, r.kecamatan, r.village, r.school, r.guardian_name,
       r.guardian_phone, r.guardian_consent_at, r.language, r.created_at, r.promoted_at,
       r.cancelled_at, p.slug AS program_slug, p.title AS program_title,
       p.first_starts_at AS program_first_starts_at,
       CASE WHEN r.status = {} AND r.waitlist_seq IS NOT NULL THEN
         (SELECT COUNT(*) FROM registration_registration w
          WHERE w.program = r.program AND w.status = {} AND w.waitlist_seq <= r.waitlist_seq)
       END AS waitlist_position
FROM registration_registration r LEFT JOIN catalog_program p ON p.id = r.program
WHERE r.code = {}
"""
)


async def _registration(code: str) -> dict[str, Any] | None:
    from youth_hub.registration import WAITLISTED, get_registration

    if db.current_engine().current_transaction.get() is not None:
        return await get_registration(code)  # youth_hub.sql reads beside a transaction, not in it
    rows = await sql.fetch(_REGISTRATION_BY_CODE, WAITLISTED, WAITLISTED, code)
    return rows[0] if rows else None


async def load_ticket(
    code: str,
    *,
    data_dir: Path | None,
    with_checkins: bool = False,
) -> Ticket | None:
    """Everything a ticket page or API answer shows; None for an unknown or malformed code.
    Without `data_dir` no QR text is signed (callers that only need the schedule)."""
    from youth_hub.registration import waitlist_position

    if not valid_code(code):
        return None
    registration = await _registration(code)
    if registration is None:
        return None
    try:
        program, sessions = await program_with_sessions(registration)
    except LookupError:
        return None
    status = str(registration.get("status"))
    position = registration.get("waitlist_position")
    if status != "waitlisted":
        position = None
    elif position is None:
        position = await _maybe_await(waitlist_position(registration))
    return Ticket(
        code=str(registration["code"]),
        status=status,
        registration=dict(registration),
        program=program,
        sessions=sessions,
        waitlist_position=position,
        qr_text=qr_text_for(data_dir, registration, program) if data_dir is not None else None,
        checkins=await ticket_checkins(registration) if with_checkins else [],
    )


async def _maybe_await(value: Any) -> Any:
    # waitlist_position may be plain or async depending on how registration computes it.
    if isinstance(value, Awaitable):
        return await value
    return value


async def cancel_ticket(code: str, *, base_url: str) -> dict[str, Any]:
    """Cancel as the holder of the code (the code is the authority: no actor, so a signed-in
    staff member cancelling their own ticket is not checked as an organiser). Registration
    promotes the first waitlisted in the same transaction; its DomainError (409
    already_cancelled) passes through."""
    from youth_hub.registration import cancel_registration

    return await cancel_registration(code, base_url=base_url, actor=None)


async def ticket_calendar(
    code: str, *, base_url: str, language: str = "id", timezone: str = "Asia/Jakarta"
) -> bytes | None:
    """The ICS file of a ticket (what `/tickets/{code}/event.ics` serves), for emails."""
    ticket = await load_ticket(code, data_dir=None)
    if ticket is None:
        return None
    return program_ics(
        ticket.program,
        ticket.sessions,
        f"{base_url}/tickets/{ticket.code}",
        language,
        status=ticket.status,
        changed_at=ticket.changed_at,
        timezone=timezone,
    )


def schedule_groups(
    program: Mapping[str, Any], sessions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Sessions grouped for display: a tour's stops by day, other kinds as one group."""
    if program.get("kind") != "tour":
        return [{"day": None, "items": sessions}] if sessions else []
    groups: list[dict[str, Any]] = []
    for session in sessions:
        day = session.get("day")
        if not groups or groups[-1]["day"] != day:
            groups.append({"day": day, "items": []})
        groups[-1]["items"].append(session)
    return groups


def ticket_json(ticket: Ticket, *, base_url: str) -> dict[str, Any]:
    """The API answer (INTERFACE.md): `qr` only for confirmed tickets."""
    program = ticket.program
    body: dict[str, Any] = {
        "code": ticket.code,
        "status": ticket.status,
        "program": {
            "slug": program["slug"],
            "title": program["title"],
            "kind": program["kind"],
            "status": program["status"],
            "summary": program.get("summary") or "",
            "venue": program.get("venue") or "",
            "kecamatan": program.get("kecamatan") or "",
            "starts_at": _iso(program.get("first_starts_at")),
            "ends_at": _iso(program.get("last_ends_at")),
            "url": f"{base_url}/programs/{program['slug']}",
            "sessions": [
                {
                    "id": s["id"],
                    "title": s["title"],
                    "starts_at": _iso(s["starts_at"]),
                    "ends_at": _iso(s["ends_at"]),
                    "location": s.get("location") or "",
                    "day": s.get("day"),
                    "checkin": bool(s.get("checkin")),
                }
                for s in ticket.sessions
            ],
        },
        "waitlist_position": ticket.waitlist_position,
        # null unless confirmed: waitlisted and cancelled tickets never carry a QR text.
        "qr": ticket.qr_text,
        "checkins": ticket.checkins,
        "ticket_url": f"{base_url}/tickets/{ticket.code}",
    }
    return body


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
