"""The staff program form: posted fields to service data, program to form values, errors to
the fields they belong to. Session rows are named `sessions-<n>-<field>`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from youth_hub.catalog.validation import MAX_SESSIONS, PROGRAM_FIELDS
from youth_hub.web.errors import FieldError
from youth_hub.web.formats import display_timezone

SESSION_KEYS = ("id", "title", "starts_at", "ends_at", "location", "day", "checkin")
TEXT_FIELDS = tuple(f for f in PROGRAM_FIELDS if f != "sessions")
_ROW_RE = re.compile(r"^sessions-(\d{1,3})-(" + "|".join(SESSION_KEYS) + r")$")
_ERROR_RE = re.compile(r"^sessions\[(\d+)\](?:\.(\w+))?$")
MAX_FORM_ROWS = MAX_SESSIONS + 1  # one blank row more than may be saved, to show the error


@dataclass
class ProgramForm:
    values: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    action: str = "save"

    def error(self, name: str) -> str:
        return self.errors.get(name, "")


def _text(value: Any) -> str:
    if isinstance(value, list):  # a repeated field: the last one counts, as for a browser
        value = value[-1] if value else ""
    return value if isinstance(value, str) else ""


def blank_row() -> dict[str, Any]:
    return {
        "id": "",
        "title": "",
        "starts_at": "",
        "ends_at": "",
        "location": "",
        "day": "",
        "checkin": False,
    }


def _is_blank(row: Mapping[str, Any]) -> bool:
    return not any(str(row.get(k) or "").strip() for k in SESSION_KEYS if k != "checkin")


def parse_form(data: Mapping[str, Any]) -> ProgramForm:
    """Read a posted form. `add_session` and `remove_session-<n>` change the rows and save
    nothing; any other submit saves (`publish` also publishes)."""
    form = ProgramForm(values={name: _text(data.get(name)) for name in TEXT_FIELDS})
    by_index: dict[int, dict[str, Any]] = {}
    for key in data:
        match = _ROW_RE.match(key)
        if not match or int(match[1]) >= 200:
            continue
        row = by_index.setdefault(int(match[1]), blank_row())
        if match[2] == "checkin":
            row["checkin"] = _text(data[key]).lower() in {"1", "on", "true", "yes"}
        else:
            row[match[2]] = _text(data[key])
    action = _text(data.get("action")) or "save"
    rows = [by_index[i] for i in sorted(by_index)]
    if action == "add_session":
        if len(rows) < MAX_FORM_ROWS:
            rows.append(blank_row())
    elif action.startswith("remove_session-"):
        index = action.removeprefix("remove_session-")
        if index.isdigit() and int(index) < len(rows):
            del rows[int(index)]
        action = "remove_session"
    elif action not in ("save", "publish"):
        action = "save"
    form.action = action
    form.rows = rows or [blank_row()]
    return form


def form_to_data(form: ProgramForm) -> dict[str, Any]:
    """What the services take; blank session rows are dropped (the form keeps one spare)."""
    form.rows = [row for row in form.rows if not _is_blank(row)] or [blank_row()]
    data: dict[str, Any] = dict(form.values)
    data["sessions"] = [dict(row) for row in form.rows if not _is_blank(row)]
    data["publish"] = form.action == "publish"
    return data


def map_errors(errors: list[FieldError]) -> dict[str, str]:
    """Service error names (`sessions[2].starts_at`) to form field names (`sessions-2-...`)."""
    mapped: dict[str, str] = {}
    for error in errors:
        name = error.field
        match = _ERROR_RE.match(name)
        if match:
            name = f"sessions-{match[1]}-{match[2] or 'title'}"
        mapped.setdefault(name, error.message)
    return mapped


def local_input(value: datetime | None) -> str:
    """A datetime-local input's value, in WIB."""
    if value is None:
        return ""
    return value.astimezone(display_timezone()).strftime("%Y-%m-%dT%H:%M")


def form_from_detail(detail: Mapping[str, Any]) -> ProgramForm:
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return local_input(value)
        if isinstance(value, float):
            return f"{value:.5f}".rstrip("0").rstrip(".")
        return str(value)

    values = {name: text(detail.get(name)) for name in TEXT_FIELDS if name != "topics"}
    values["topics"] = ", ".join(detail.get("topics") or [])
    rows = [
        {
            "id": str(s["id"]),
            "title": s["title"],
            "starts_at": local_input(s["starts_at"]),
            "ends_at": local_input(s["ends_at"]),
            "location": s["location"],
            "day": "" if s["day"] is None else str(s["day"]),
            "checkin": bool(s["checkin"]),
        }
        for s in detail.get("sessions") or []
    ]
    return ProgramForm(values=values, rows=rows or [blank_row()])


def blank_form(kind: str) -> ProgramForm:
    values = {name: "" for name in TEXT_FIELDS}
    values.update(kind=kind, age_min="16", age_max="30", price_idr="0")
    return ProgramForm(values=values, rows=[blank_row()])
