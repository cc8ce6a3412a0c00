"""Turning what a form or a JSON body says into clean program values, with a message per field.

Values may arrive typed (JSON) or as strings (forms); both go through the same rules. Every
message is built at call time, so it is in the language of the current request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from youth_hub.catalog.constants import KECAMATAN, KINDS
from youth_hub.i18n import gettext as _
from youth_hub.web.errors import FieldError
from youth_hub.web.formats import display_timezone

MAX_TITLE = 160
MAX_SUMMARY = 300
MAX_DESCRIPTION = 20_000
MAX_VENUE = 200
MAX_LOCATION = 200
MAX_TOPICS = 10
MAX_TOPIC = 40
MAX_SESSIONS = 60
MAX_DAY = 30
CAPACITY_RANGE = (1, 100_000)
WAITLIST_RANGE = (0, 100_000)
PRICE_RANGE = (0, 100_000_000)
AGE_RANGE = (10, 99)
YEAR_RANGE = (2000, 2100)

TOPIC_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Control characters break PostgreSQL (NUL) or the page; newlines and tabs only in long text.
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INT_RE = re.compile(r"^[+-]?\d{1,12}$")
# Rupiah as people type it: 150000, 150.000, Rp 150.000
_RUPIAH_RE = re.compile(r"^(?:rp\.?\s*)?(\d{1,3}(?:[.\s]\d{3})+|\d{1,12})(?:,-|,00)?$", re.I)

PROGRAM_FIELDS = (
    "kind",
    "title",
    "summary",
    "description",
    "topics",
    "venue",
    "kecamatan",
    "latitude",
    "longitude",
    "capacity",
    "waitlist_limit",
    "price_idr",
    "age_min",
    "age_max",
    "registration_opens_at",
    "registration_closes_at",
    "sessions",
)


def field_label(name: str) -> str:
    labels = {
        "kind": _("Kind of program"),
        "title": _("Title"),
        "summary": _("Summary"),
        "description": _("Description"),
        "topics": _("Topics"),
        "venue": _("Venue"),
        "kecamatan": _("Kecamatan"),
        "latitude": _("Latitude"),
        "longitude": _("Longitude"),
        "capacity": _("Capacity"),
        "waitlist_limit": _("Waiting-list limit"),
        "price_idr": _("Price (Rp)"),
        "age_min": _("Minimum age"),
        "age_max": _("Maximum age"),
        "registration_opens_at": _("Registration opens"),
        "registration_closes_at": _("Registration closes"),
        "sessions": _("Sessions"),
        "status": _("Status"),
        "publish": _("Publish"),
        "q": _("Search"),
        "topic": _("Topic"),
        "month": _("Month"),
        "free": _("Free only"),
        "seats": _("Seats left only"),
        "page": _("Page"),
    }
    return labels.get(name, name)


def session_label(index: int, name: str) -> str:
    labels = {
        "title": _("Title"),
        "starts_at": _("Start"),
        "ends_at": _("End"),
        "location": _("Location"),
        "day": _("Day"),
        "checkin": _("Check-in point"),
        "id": "id",
    }
    return _("Session %(n)s: %(field)s", n=index + 1, field=labels.get(name, name))


@dataclass
class Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        if not any(e.field == name for e in self.items):  # the first problem of a field is enough
            self.items.append(FieldError(name, message))

    def has(self, name: str) -> bool:
        return any(e.field == name for e in self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


# ----------------------------------------------------------------------------- single values


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON escapes
        return False
    return True


def clean_text(
    errors: Errors,
    name: str,
    label: str,
    value: Any,
    *,
    max_len: int,
    required: bool = False,
    multiline: bool = False,
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, _("%(field)s must be text.", field=label))
        return ""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    if required and not value:
        errors.add(name, _("%(field)s is required.", field=label))
    elif len(value) > max_len:
        errors.add(name, _("%(field)s: at most %(max)s characters.", field=label, max=max_len))
    elif (_CONTROL_TEXT if multiline else _CONTROL_LINE).search(value) or not _encodable(value):
        errors.add(name, _("%(field)s contains characters that are not allowed.", field=label))
    return value


def clean_int(
    errors: Errors,
    name: str,
    label: str,
    value: Any,
    *,
    bounds: tuple[int, int],
    required: bool = False,
    rupiah: bool = False,
) -> int | None:
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            value = None
    if value is None:
        if required:
            errors.add(name, _("%(field)s is required.", field=label))
        return None
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        if _INT_RE.match(value):
            number = int(value)
        elif rupiah and (match := _RUPIAH_RE.match(value)):
            number = int(re.sub(r"[.\s]", "", match.group(1)))
    if number is None:
        errors.add(name, _("%(field)s must be a whole number.", field=label))
        return None
    low, high = bounds
    if not low <= number <= high:
        shown_low, shown_high = _thousands(low), _thousands(high)
        errors.add(
            name,
            _(
                "%(field)s must be between %(min)s and %(max)s.",
                field=label,
                min=shown_low,
                max=shown_high,
            ),
        )
        return None
    return number


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", ".")  # 100.000 as Indonesians write it


def clean_float(
    errors: Errors, name: str, label: str, value: Any, *, bounds: tuple[float, float]
) -> float | None:
    if isinstance(value, str):
        value = value.strip().replace(",", ".")
        if value == "":
            return None
        try:
            value = float(value) if len(value) <= 32 else None
        except ValueError:
            value = None
        if value is None:
            errors.add(name, _("%(field)s must be a number.", field=label))
            return None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.add(name, _("%(field)s must be a number.", field=label))
        return None
    low, high = bounds
    if not low <= value <= high:
        errors.add(
            name,
            _("%(field)s must be between %(min)s and %(max)s.", field=label, min=low, max=high),
        )
        return None
    return float(value)


def clean_bool(errors: Errors, name: str, label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in {"", "0", "false", "off", "no"}:
        return False
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "on", "yes"}:
        return True
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    errors.add(name, _("%(field)s must be yes or no.", field=label))
    return False


def parse_datetime_value(value: Any) -> datetime | None:
    """An aware datetime from a datetime or ISO 8601 text; naive times are WIB (the display
    time zone), as a datetime-local input sends them. None when it cannot be read."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and 8 <= len(value.strip()) <= 40:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not YEAR_RANGE[0] <= parsed.year <= YEAR_RANGE[1]:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=display_timezone())
    return parsed.replace(microsecond=0)


def clean_datetime(
    errors: Errors, name: str, label: str, value: Any, *, required: bool = False
) -> datetime | None:
    if isinstance(value, str) and not value.strip():
        value = None
    if value is None:
        if required:
            errors.add(name, _("%(field)s is required.", field=label))
        return None
    parsed = parse_datetime_value(value)
    if parsed is None:
        errors.add(
            name,
            _(
                "%(field)s must be a date and time such as 2026-12-01T09:00, between the years "
                "2000 and 2100.",
                field=label,
            ),
        )
    return parsed


def clean_topics(errors: Errors, value: Any) -> list[str]:
    label = field_label("topics")
    if value is None:
        return []
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\n]", value)]
    if not isinstance(value, list | tuple):
        errors.add("topics", _("%(field)s must be a list of words.", field=label))
        return []
    topics: list[str] = []
    for item in value:
        if not isinstance(item, str):
            errors.add("topics", _("%(field)s must be a list of words.", field=label))
            return []
        topic = item.strip().lower()
        if not topic:
            continue
        if len(topic) > MAX_TOPIC or not TOPIC_RE.match(topic):
            errors.add(
                "topics",
                _(
                    "Topic “%(topic)s”: use lower-case letters, digits and hyphens, at most "
                    "%(max)s characters.",
                    topic=topic[:MAX_TOPIC],
                    max=MAX_TOPIC,
                ),
            )
            return []
        if topic not in topics:
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        errors.add("topics", _("At most %(max)s topics.", max=MAX_TOPICS))
        return []
    return topics


def clean_kecamatan(errors: Errors, value: Any, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add("kecamatan", _("%(field)s is required.", field=field_label("kecamatan")))
        return ""
    if isinstance(value, str):
        wanted = value.strip().lower()
        for name in KECAMATAN:
            if name.lower() == wanted:
                return name
    errors.add("kecamatan", _("Choose one of the kecamatan of Purbalingga, or Lainnya."))
    return ""


def clean_kind(errors: Errors, value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in KINDS:
        return value.strip().lower()
    errors.add("kind", _("Choose the kind of program: workshop, sport or tour."))
    return ""


# ----------------------------------------------------------------------------- sessions


def clean_sessions(errors: Errors, value: Any, *, kind: str | None) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.add("sessions", _("%(field)s must be a list.", field=field_label("sessions")))
        return []
    if len(value) > MAX_SESSIONS:
        errors.add("sessions", _("At most %(max)s sessions or stops.", max=MAX_SESSIONS))
        return []
    sessions: list[dict[str, Any]] = []
    for index, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            errors.add(
                f"sessions[{index}]", _("%(field)s must be a list.", field=field_label("sessions"))
            )
            continue
        prefix = f"sessions[{index}]"
        title = clean_text(
            errors,
            f"{prefix}.title",
            session_label(index, "title"),
            raw.get("title"),
            max_len=MAX_TITLE,
        )
        location = clean_text(
            errors,
            f"{prefix}.location",
            session_label(index, "location"),
            raw.get("location"),
            max_len=MAX_LOCATION,
        )
        starts = clean_datetime(
            errors,
            f"{prefix}.starts_at",
            session_label(index, "starts_at"),
            raw.get("starts_at"),
            required=True,
        )
        ends = clean_datetime(
            errors,
            f"{prefix}.ends_at",
            session_label(index, "ends_at"),
            raw.get("ends_at"),
            required=True,
        )
        day = clean_int(
            errors,
            f"{prefix}.day",
            session_label(index, "day"),
            raw.get("day"),
            bounds=(1, MAX_DAY),
        )
        checkin = clean_bool(
            errors, f"{prefix}.checkin", session_label(index, "checkin"), raw.get("checkin")
        )
        ident = raw.get("id")
        if isinstance(ident, str):
            ident = int(ident) if ident.strip().isdigit() and len(ident) < 12 else None
        if isinstance(ident, bool) or not isinstance(ident, int):
            ident = None
        if starts and ends and ends <= starts:
            errors.add(
                f"{prefix}.ends_at",
                _("Session %(n)s: the end must be after the start.", n=index + 1),
            )
        elif starts and ends and ends - starts > timedelta(days=MAX_DAY):
            errors.add(
                f"{prefix}.ends_at",
                _("Session %(n)s: at most %(days)s days long.", n=index + 1, days=MAX_DAY),
            )
        sessions.append(
            {
                "id": ident,
                "title": title,
                "location": location,
                "starts_at": starts,
                "ends_at": ends,
                "day": day,
                "checkin": checkin,
            }
        )
    if errors:
        return sessions
    sessions.sort(key=lambda s: s["starts_at"])
    if kind == "tour" and sessions:
        # A stop without a day belongs to the day of its date, counted from the first stop.
        first = _local_date(sessions[0]["starts_at"])
        for session in sessions:
            if session["day"] is None:
                session["day"] = min((_local_date(session["starts_at"]) - first).days + 1, MAX_DAY)
    return sessions


def _local_date(value: datetime) -> date:
    return value.astimezone(display_timezone()).date()


# ----------------------------------------------------------------------------- whole program


def clean_program(raw: Mapping[str, Any], *, partial: bool) -> tuple[dict[str, Any], Errors]:
    """The clean values of the fields present in `raw` (all fields, with defaults, unless
    `partial`), and the errors found field by field. Cross-field rules: `check_program`."""
    errors = Errors()
    values: dict[str, Any] = {}

    def present(name: str) -> bool:
        return name in raw or not partial

    if present("kind"):
        values["kind"] = clean_kind(errors, raw.get("kind"))
    if present("title"):
        values["title"] = clean_text(
            errors,
            "title",
            field_label("title"),
            raw.get("title"),
            max_len=MAX_TITLE,
            required=True,
        )
    if present("summary"):
        values["summary"] = clean_text(
            errors, "summary", field_label("summary"), raw.get("summary"), max_len=MAX_SUMMARY
        )
    if present("description"):
        values["description"] = clean_text(
            errors,
            "description",
            field_label("description"),
            raw.get("description"),
            max_len=MAX_DESCRIPTION,
            multiline=True,
        )
    if present("topics"):
        values["topics"] = clean_topics(errors, raw.get("topics"))
    if present("venue"):
        values["venue"] = clean_text(
            errors, "venue", field_label("venue"), raw.get("venue"), max_len=MAX_VENUE
        )
    if present("kecamatan"):
        values["kecamatan"] = clean_kecamatan(errors, raw.get("kecamatan"))
    if present("latitude"):
        values["latitude"] = clean_float(
            errors, "latitude", field_label("latitude"), raw.get("latitude"), bounds=(-90.0, 90.0)
        )
    if present("longitude"):
        values["longitude"] = clean_float(
            errors,
            "longitude",
            field_label("longitude"),
            raw.get("longitude"),
            bounds=(-180.0, 180.0),
        )
    if present("capacity"):
        values["capacity"] = clean_int(
            errors,
            "capacity",
            field_label("capacity"),
            raw.get("capacity"),
            bounds=CAPACITY_RANGE,
            required=True,
        )
    if present("waitlist_limit"):
        values["waitlist_limit"] = clean_int(
            errors,
            "waitlist_limit",
            field_label("waitlist_limit"),
            raw.get("waitlist_limit"),
            bounds=WAITLIST_RANGE,
        )
    if present("price_idr"):
        price = clean_int(
            errors,
            "price_idr",
            field_label("price_idr"),
            raw.get("price_idr"),
            bounds=PRICE_RANGE,
            rupiah=True,
        )
        values["price_idr"] = price or 0
    for name, default in (("age_min", 16), ("age_max", 30)):
        if present(name):
            age = clean_int(errors, name, field_label(name), raw.get(name), bounds=AGE_RANGE)
            values[name] = default if age is None and not errors.has(name) else age
    for name in ("registration_opens_at", "registration_closes_at"):
        if present(name):
            values[name] = clean_datetime(errors, name, field_label(name), raw.get(name))
    if present("sessions"):
        kind = values.get("kind") or (raw.get("kind") if isinstance(raw.get("kind"), str) else None)
        values["sessions"] = clean_sessions(errors, raw.get("sessions"), kind=kind)
    return values, errors


def check_program(merged: Mapping[str, Any], errors: Errors) -> None:
    """Rules across fields, on the program as it would be after the change."""
    age_min, age_max = merged.get("age_min"), merged.get("age_max")
    if (
        isinstance(age_min, int)
        and isinstance(age_max, int)
        and age_min > age_max
        and not errors.has("age_min")
        and not errors.has("age_max")
    ):
        errors.add("age_max", _("The minimum age may not be above the maximum age."))
    lat, lon = merged.get("latitude"), merged.get("longitude")
    one_missing = (lat is None) != (lon is None)
    if one_missing and not errors.has("latitude") and not errors.has("longitude"):
        errors.add(
            "longitude" if lon is None else "latitude",
            _("Give both latitude and longitude, or neither."),
        )
    opens, closes = merged.get("registration_opens_at"), merged.get("registration_closes_at")
    if opens and closes and opens >= closes:
        errors.add("registration_closes_at", _("Registration must open before it closes."))
    sessions = merged.get("sessions") or []
    if sessions and not any(errors.has(f"sessions[{i}].ends_at") for i in range(len(sessions))):
        last_end = max(s["ends_at"] for s in sessions if s["ends_at"])
        if closes and closes > last_end:
            errors.add(
                "registration_closes_at", _("Registration must close before the program ends.")
            )
        elif opens and opens >= last_end:
            errors.add(
                "registration_opens_at", _("Registration must open before the program ends.")
            )
