"""Calendar files (ICS) of a program: one event per session or itinerary stop.

Times are written with TZID (the display time zone, Asia/Jakarta by default) and its VTIMEZONE,
so calendars show the same wall-clock time as the ticket page. UIDs depend only on the program
and the session's place in it, so downloading the file again updates the events instead of
adding copies; SEQUENCE grows with every change so calendar apps accept the update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone

from youth_hub.i18n import gettext as _
from youth_hub.i18n import language as in_language

PRODID = "-//Dinporapar Kabupaten Purbalingga//Youth Hub//ID"
ALARM_BEFORE = timedelta(hours=2)
_SEQUENCE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# Event status per ticket status: a waiting-list place is tentative, a cancelled one cancelled.
_EVENT_STATUS = {"confirmed": "CONFIRMED", "waitlisted": "TENTATIVE", "cancelled": "CANCELLED"}


@lru_cache(maxsize=8)
def _vtimezone(tzid: str) -> Timezone:
    # Building a VTIMEZONE from the tz database takes ~20 ms; the zone does not change.
    return Timezone.from_tzid(tzid)


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    # The database stores UTC; a naive value read back from SQLite is UTC too.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sequence(*moments: datetime | None) -> int:
    latest = max((_aware(m) for m in moments if m is not None), default=_SEQUENCE_EPOCH)
    return max(0, int((latest - _SEQUENCE_EPOCH).total_seconds() // 60))


def _line(value: Any) -> str:
    # Titles and places are one line: a CR/LF in a name must not start a new property.
    return " ".join(str(value or "").split())


def _location(program: Mapping[str, Any], session: Mapping[str, Any]) -> str:
    parts = [
        _line(session.get("location")),
        _line(program.get("venue")),
        _line(program.get("kecamatan")),
    ]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return ", ".join(seen)


def _summary(program: Mapping[str, Any], session: Mapping[str, Any], count: int) -> str:
    title = _line(program.get("title"))
    part = _line(session.get("title"))
    if program.get("kind") == "tour" and session.get("day"):
        part = (
            _("Day %(day)s: %(stop)s", day=session["day"], stop=part)
            if part
            else _("Day %(day)s", day=session["day"])
        )
    if count == 1 and not part:
        return title
    return f"{title} — {part}" if part else title


def program_ics(
    program: Mapping[str, Any],
    sessions: Iterable[Mapping[str, Any]],
    ticket_url: str,
    language: str = "id",
    *,
    status: str = "confirmed",
    changed_at: datetime | None = None,
    timezone: str = "Asia/Jakarta",
    now: datetime | None = None,
) -> bytes:
    """The ICS file of a program for one ticket.

    `program` and `sessions` are rows (dicts) of the catalog; `status` is the ticket's status
    (a cancelled ticket or program gives cancelled events, so re-importing removes them);
    `changed_at` is the ticket's last change, which must bump SEQUENCE like a program change.
    """
    tz = ZoneInfo(timezone)
    ordered = sorted(sessions, key=lambda s: (_aware(s["starts_at"]), s.get("position") or 0))
    host = urlsplit(ticket_url).hostname or "youth-hub"
    if program.get("status") == "cancelled":
        status = "cancelled"
    event_status = _EVENT_STATUS.get(status, "CONFIRMED")
    sequence = _sequence(program.get("updated_at"), changed_at)
    stamp = (now or datetime.now(UTC)).astimezone(UTC)

    with in_language(language):
        calendar = Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", _line(program.get("title")) or "Youth Hub")
        calendar.add("x-wr-timezone", timezone)
        calendar.add_component(_vtimezone(timezone))
        description = "\n\n".join(
            part
            for part in (
                str(program.get("summary") or "").strip(),
                _("Your ticket: %(url)s", url=ticket_url),
            )
            if part
        )
        for index, session in enumerate(ordered):
            event = Event()
            # The place in the schedule, not the row id: catalog may rewrite session rows.
            event.add("uid", f"yh-program-{program['id']}-session-{index + 1}@{host}")
            event.add("dtstamp", stamp)
            event.add("sequence", sequence)
            event.add("dtstart", _aware(session["starts_at"]).astimezone(tz))
            event.add("dtend", _aware(session["ends_at"]).astimezone(tz))
            summary = _summary(program, session, len(ordered))
            if event_status == "CANCELLED":
                summary = _("Cancelled: %(title)s", title=summary)
            event.add("summary", summary)
            location = _location(program, session)
            if location:
                event.add("location", location)
            if program.get("latitude") is not None and program.get("longitude") is not None:
                event.add("geo", (float(program["latitude"]), float(program["longitude"])))
            event.add("description", description)
            event.add("url", ticket_url)
            event.add("status", event_status)
            if event_status != "CANCELLED":
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("trigger", -ALARM_BEFORE)
                alarm.add("description", _("Reminder: %(title)s", title=summary))
                event.add_component(alarm)
            calendar.add_component(event)
        return bytes(calendar.to_ical())
