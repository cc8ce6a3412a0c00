"""Rendering an outbox row into an email: templates/emails/<kind>.txt and .html, in the
registrant's language, with times in WIB, and the headers INTERFACE.md promises."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from youth_hub import i18n
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.i18n import gettext as _
from youth_hub.messaging import mime
from youth_hub.registration.tables import Registration
from youth_hub.settings import TEMPLATES_DIR, Settings
from youth_hub.web import formats

ICS_KINDS = frozenset({"confirmation", "promoted", "changed"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_PROGRAM_COLUMNS = (
    Program.id,
    Program.slug,
    Program.kind,
    Program.title,
    Program.summary,
    Program.venue,
    Program.kecamatan,
    Program.latitude,
    Program.longitude,
    Program.price_idr,
    Program.status,
    Program.organiser,
    Program.first_starts_at,
    Program.last_ends_at,
    Program.reminder_offsets,
    Program.updated_at,
)


class RenderError(Exception):
    """The message cannot be built (its program is gone, the address is unusable...): a
    permanent failure, shown to staff, never retried."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass
class MessageData:
    """What a batch of rows needs, loaded in a few queries instead of a few per message."""

    programs: dict[int, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Calendar files per (program, status, language, change), with a marker for the code.
    calendars: dict[tuple[Any, ...], str] = field(default_factory=dict)
    # Texts per (kind, language, program, ...), with markers for the name and the code.
    renders: dict[tuple[Any, ...], Rendered] = field(default_factory=dict)

    def registration_for(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        code = row.get("ticket_code")
        return self.registrations.get(code) if code else None

    def program_for(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        program_id = row.get("program")
        if program_id is None:
            registration = self.registration_for(row)
            program_id = registration["program"] if registration else None
        return self.programs.get(program_id) if program_id is not None else None


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def load_message_data(rows: Iterable[Mapping[str, Any]]) -> MessageData:
    rows = list(rows)
    data = MessageData()
    codes = sorted({r["ticket_code"] for r in rows if r.get("ticket_code")})
    for chunk in _chunks(codes):
        found = (
            await Registration.select(
                Registration.id,
                Registration.code,
                Registration.program,
                Registration.status,
                Registration.waitlist_seq,
                Registration.full_name,
                Registration.first_name,
                Registration.language,
                Registration.promoted_at,
            )
            .where(Registration.code.is_in(list(chunk)))
            .run()
        )
        data.registrations.update({r["code"]: r for r in found})
    program_ids = sorted(
        {r["program"] for r in rows if r.get("program") is not None}
        | {r["program"] for r in data.registrations.values()}
    )
    for chunk in _chunks(program_ids):
        for program in (
            await Program.select(*_PROGRAM_COLUMNS).where(Program.id.is_in(list(chunk))).run()
        ):
            program["sessions"] = []
            data.programs[program["id"]] = program
        sessions = (
            await ProgramSession.select(
                ProgramSession.program,
                ProgramSession.position,
                ProgramSession.title,
                ProgramSession.starts_at,
                ProgramSession.ends_at,
                ProgramSession.location,
                ProgramSession.day,
            )
            .where(ProgramSession.program.is_in(list(chunk)))
            .order_by(ProgramSession.starts_at)
            .run()
        )
        for session in sessions:
            data.programs[session["program"]]["sessions"].append(session)
    return data


async def waitlist_position(registration: Mapping[str, Any]) -> int | None:
    """The rank among the program's live waiting list (the registration domain's rule)."""
    seq = registration.get("waitlist_seq")
    if registration.get("status") != "waitlisted" or seq is None:
        return None
    ahead: int = (
        await Registration.count()
        .where(
            (Registration.program == registration["program"])
            & (Registration.status == "waitlisted")
            & (Registration.waitlist_seq <= seq)
        )
        .run()
    )
    return ahead


@lru_cache(maxsize=4096)
def _formatted(kind: str, value: Any, style: str, language: str, timezone: str) -> str:
    if kind == "datetime":
        return formats.format_datetime(value, style)
    if kind == "date":
        return formats.format_date(value, style)
    return formats.format_time(value)


# Babel takes most of a render; the same few session times recur in every message of a
# program, so each is formatted once per language and time zone.
def _format_datetime(value: datetime | None, style: str = "medium") -> str:
    return _formatted(
        "datetime", value, style, i18n.current_language(), str(formats.display_timezone())
    )


def _format_date(value: Any, style: str = "long") -> str:
    return _formatted(
        "date", value, style, i18n.current_language(), str(formats.display_timezone())
    )


def _format_time(value: datetime | None) -> str:
    return _formatted("time", value, "", i18n.current_language(), str(formats.display_timezone()))


@cache
def email_environment() -> Environment:
    """Autoescaped for .html, plain for .txt; the same translations and formats as pages."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates change with a deploy, not while it runs: no stat() each
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters.update(
        idr=formats.format_idr,
        datetime=_format_datetime,
        date=_format_date,
        time=_format_time,
    )
    env.globals.update(current_language=i18n.current_language)
    return env


def one_line(value: str, limit: int = 180) -> str:
    """Header-safe text: no line breaks or control characters (no header injection)."""
    cleaned = _CONTROL.sub(" ", value or "").strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _subject(kind: str, program_title: str, context: Mapping[str, Any]) -> str:
    title = one_line(program_title, 120)
    subjects = {
        "confirmation": lambda: _("Your ticket: %(program)s", program=title),
        "waitlisted": lambda: _("You are on the waiting list: %(program)s", program=title),
        "promoted": lambda: _("A seat is yours: %(program)s", program=title),
        "cancelled": lambda: _("Registration cancelled: %(program)s", program=title),
        "reminder": lambda: _("Reminder: %(program)s", program=title),
        "changed": lambda: _("Schedule changed: %(program)s", program=title),
        "program_cancelled": lambda: _("Program cancelled: %(program)s", program=title),
        "my_tickets": lambda: _("Your Youth Hub tickets"),
        "certificate": lambda: _("Your certificate: %(program)s", program=title),
        "feedback": lambda: _("How was %(program)s?", program=title),
        "digest": lambda: _(
            "New registrations on %(date)s", date=str(context.get("date_label", ""))
        ),
    }
    return one_line(subjects[kind]())


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def template_context(
    row: Mapping[str, Any],
    data: MessageData,
    settings: Settings,
    *,
    position: int | None = None,
) -> dict[str, Any]:
    kind = row["kind"]
    extra: dict[str, Any] = dict(row.get("context") or {})
    program = data.program_for(row)
    registration = data.registration_for(row)
    needs_program = kind not in {"my_tickets", "digest"}
    if needs_program and program is None:
        raise RenderError("the program of this message no longer exists")
    code = row.get("ticket_code")
    base = settings.base_url.rstrip("/")
    ticket_url = f"{base}/tickets/{code}" if code else ""
    if kind == "digest":
        extra["date_label"] = formats.format_date(
            _parse_time(extra.get("day")) or datetime.now(UTC), "long"
        )
    return {
        "kind": kind,
        "name": row.get("to_name") or (registration or {}).get("full_name") or "",
        "program": program,
        "sessions": (program or {}).get("sessions", []),
        "starts_at": (program or {}).get("first_starts_at"),
        "ticket_code": code or "",
        "ticket_url": ticket_url,
        "ics_url": f"{ticket_url}/event.ics" if code else "",
        "certificate_url": extra.get("url") or (f"{ticket_url}/certificate.pdf" if code else ""),
        "feedback_url": extra.get("url") or ticket_url,
        "my_url": extra.get("url") or extra.get("link") or f"{base}/my",
        "valid_minutes": extra.get("valid_minutes"),
        "tickets": [t for t in extra.get("tickets", []) if isinstance(t, dict)],
        "base_url": base,
        "manage_url": f"{base}/manage",
        "position": position if position is not None else extra.get("waitlist_position"),
        "old_starts_at": _parse_time(extra.get("old_starts_at")),
        "old_venue": str(extra.get("old_venue") or ""),
        "offset_minutes": extra.get("offset"),
        "digest_programs": [p for p in extra.get("programs", []) if isinstance(p, dict)],
        "date_label": extra.get("date_label", ""),
    }


# Kinds whose text differs between the registrants of a program only by their name and ticket
# code: rendered once per program (and language...) with markers, then the two written in.
_SHARED_KINDS = frozenset(
    {
        "confirmation",
        "waitlisted",
        "promoted",
        "cancelled",
        "reminder",
        "changed",
        "program_cancelled",
        "certificate",
        "feedback",
    }
)
_NAME_MARK = "\x00yh-name\x00"
_CODE_MARK = "\x00yh-code\x00"


def render_message(
    row: Mapping[str, Any],
    data: MessageData,
    settings: Settings,
    *,
    position: int | None = None,
) -> Rendered:
    """Subject, text and HTML of the row, in the row's language."""
    extra = row.get("context") or {}
    code = row.get("ticket_code") or ""
    program = data.program_for(row)
    if row["kind"] not in _SHARED_KINDS or not code or program is None or "url" in extra:
        return _render(row, data, settings, position)
    registration = data.registration_for(row) or {}
    # No NUL in what is written in: the markers must stay the only ones.
    name = (row.get("to_name") or registration.get("full_name") or "").replace("\x00", "")
    code = code.replace("\x00", "")
    resolved = position if position is not None else extra.get("waitlist_position")
    key = (
        row["kind"],
        row.get("language"),
        program["id"],
        bool(name),
        resolved,
        json.dumps(extra, sort_keys=True, default=str),
    )
    shared = data.renders.get(key)
    if shared is None:
        marked = {
            **row,
            "to_name": _NAME_MARK if name else "",
            "ticket_code": _CODE_MARK,
            "program": program["id"],
        }
        shared = _render(marked, data, settings, resolved)
        data.renders[key] = shared
    html_code, html_name = str(escape(code)), str(escape(name))
    return Rendered(
        subject=shared.subject,
        text=shared.text.replace(_CODE_MARK, code).replace(_NAME_MARK, name),
        html=shared.html.replace(_CODE_MARK, html_code).replace(_NAME_MARK, html_name),
    )


def _render(
    row: Mapping[str, Any], data: MessageData, settings: Settings, position: int | None
) -> Rendered:
    env = email_environment()
    with i18n.language(row.get("language") or i18n.DEFAULT_LANGUAGE):
        context = template_context(row, data, settings, position=position)
        title = (context["program"] or {}).get("title", "")
        subject = _subject(row["kind"], title, context)
        context["subject"] = subject
        text = env.get_template(f"emails/{row['kind']}.txt").render(context)
        html = env.get_template(f"emails/{row['kind']}.html").render(context)
    return Rendered(subject=subject, text=text, html=html)


def build_email(
    row: Mapping[str, Any],
    rendered: Rendered,
    settings: Settings,
    *,
    date: datetime,
    ics: str | None = None,
) -> bytes:
    """The bytes handed to the server: the headers INTERFACE.md promises, a text and an HTML
    part, and the calendar file when there is one."""
    sender_name, sender = email.utils.parseaddr(settings.mail_from)
    headers = [
        ("Subject", rendered.subject),
        ("Date", email.utils.format_datetime(date.astimezone(UTC))),
        ("Message-ID", row["message_id"]),
        ("X-Youth-Hub-Kind", row["kind"]),
    ]
    if row.get("ticket_code"):
        headers.append(("X-Youth-Hub-Ticket", row["ticket_code"]))
    headers += [
        ("Content-Language", row.get("language") or i18n.DEFAULT_LANGUAGE),
        ("Auto-Submitted", "auto-generated"),  # RFC 3834: no vacation replies to robots
    ]
    attachments = []
    if ics:
        attachments.append(
            mime.Attachment(ics, "text/calendar", "event.ics", params="; method=PUBLISH")
        )
    try:
        addresses = [
            ("From", mime.mailbox(one_line(sender_name, 120), sender)),
            ("To", mime.mailbox(one_line(row.get("to_name") or "", 120), row["to_email"])),
        ]
        return mime.compose(
            [headers[0], *addresses, *headers[1:]], rendered.text, rendered.html, attachments
        )
    except mime.MimeError as exc:
        raise RenderError(str(exc)) from exc


# The calendar file differs between the tickets of a program only by the ticket's code in
# its links; it is built once per program, status and language with a marker in place of the
# code, and the code written in (then the lines are folded again: RFC 5545, 75 octets).
_CODE_MARKER = "YHTICKETCODEMARKER"
_FOLD = re.compile(r"\r\n[ \t]")


def _fold(line: str) -> str:
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    pieces, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a UTF-8 character
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start, limit = end, 74  # continuation lines start with a space
    return "\r\n ".join(pieces)


def ics_for(row: Mapping[str, Any], data: MessageData, settings: Settings) -> str | None:
    """The calendar file of the ticket, built by the tickets domain (program_ics)."""
    if row["kind"] not in ICS_KINDS:
        return None
    program = data.program_for(row)
    code = row.get("ticket_code")
    if program is None or not code:
        return None
    registration = data.registration_for(row) or {}
    language = row.get("language") or i18n.DEFAULT_LANGUAGE
    status = registration.get("status") or "confirmed"
    changed_at = registration.get("promoted_at")
    key = (program["id"], status, language, changed_at)
    template = data.calendars.get(key)
    if template is None:
        template = _unfolded_ics(program, status, language, changed_at, settings, _CODE_MARKER)
        data.calendars[key] = template
    if _CODE_MARKER in template and _CODE_MARKER not in code:
        unfolded = template.replace(_CODE_MARKER, code)
    else:  # the marker did not come through as written: build this ticket's file whole
        unfolded = _unfolded_ics(program, status, language, changed_at, settings, code)
    return "\r\n".join(_fold(line) for line in unfolded.split("\r\n"))


def _unfolded_ics(
    program: Mapping[str, Any],
    status: str,
    language: str,
    changed_at: Any,
    settings: Settings,
    code: str,
) -> str:
    from youth_hub.tickets import program_ics

    built = program_ics(
        program,
        program["sessions"],
        f"{settings.base_url.rstrip('/')}/tickets/{code}",
        language,
        status=status,
        changed_at=changed_at,
        timezone=settings.timezone,
    )
    return _FOLD.sub("", built.decode("utf-8"))
