"""Catalogue rules: creating, changing, publishing and cancelling programs, and finding them.

Plain async functions, no HTTP. Who may do what:
- organisers create workshops and sport programs and manage their own;
- dinporapar and admin (`user.is_office`) manage every program and alone create tours;
- scanners manage nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from litestar.status_codes import (
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)
from piccolo.querystring import QueryString

from youth_hub import db
from youth_hub.accounts import CurrentUser, Role
from youth_hub.catalog import statements
from youth_hub.catalog.constants import KECAMATAN, KINDS, PER_PAGE_API
from youth_hub.catalog.signals import (
    emit_capacity_raised,
    emit_program_cancelled,
    emit_program_changed,
    sessions_in_use,
)
from youth_hub.catalog.tables import Program, ProgramSession, ProgramTopic
from youth_hub.catalog.validation import (
    PROGRAM_FIELDS,
    TOPIC_RE,
    check_program,
    clean_bool,
    clean_program,
    field_label,
)
from youth_hub.i18n import gettext as _
from youth_hub.web.errors import DomainError, FieldError, ValidationFailed
from youth_hub.web.formats import display_timezone

MAX_SLUG_BASE = 80
MAX_QUERY = 100
MAX_PAGE = 10_000
CREATE_ATTEMPTS = 3  # a slug taken between our look-up and our insert: try the next one

_SLUG_TRANSLATE = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "ae",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "œ": "oe",
        "Œ": "oe",
        "&": " dan ",
    }
)

# Columns a catalogue card needs; the organiser's name comes with the same query (a join).
_LIST_COLUMNS = (
    Program.id,
    Program.slug,
    Program.kind,
    Program.title,
    Program.summary,
    Program.venue,
    Program.kecamatan,
    Program.latitude,
    Program.longitude,
    Program.capacity,
    Program.seats_taken,
    Program.waitlist_limit,
    Program.waitlist_taken,
    Program.price_idr,
    Program.age_min,
    Program.age_max,
    Program.registration_opens_at,
    Program.registration_closes_at,
    Program.status,
    Program.first_starts_at,
    Program.last_ends_at,
    Program.organiser,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ----------------------------------------------------------------------------- slugs


def slugify(title: str) -> str:
    """ASCII, lower-case, hyphenated; accents transliterated; "program" when nothing is left
    (a title in Javanese script or emoji only)."""
    text = unicodedata.normalize("NFKD", title.translate(_SLUG_TRANSLATE))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(text) > MAX_SLUG_BASE:
        text = text[:MAX_SLUG_BASE].rsplit("-", 1)[0] or text[:MAX_SLUG_BASE]
    return text.strip("-") or "program"


async def unique_slug(title: str) -> str:
    base = slugify(title)
    rows = await Program.select(Program.slug).where(Program.slug.like(f"{base}%")).run()
    taken = {row["slug"] for row in rows}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")


def is_slug(text: str) -> bool:
    """Could this be one of our slugs? Anything else is not found, without asking the
    database (a NUL byte, say, would make PostgreSQL fail)."""
    return bool(_SLUG_RE.match(text))


def _is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"


# ----------------------------------------------------------------------------- who may


def may_manage(user: CurrentUser | None, program: Mapping[str, Any]) -> bool:
    """Office staff manage every program; an organiser only their own."""
    if user is None:
        return False
    if user.is_office:
        return True
    return user.role == Role.ORGANISER and program.get("organiser") == user.id


def may_create(user: CurrentUser | None, kind: str | None = None) -> bool:
    if user is None or not user.at_least(Role.ORGANISER):
        return False
    return kind != "tour" or user.is_office


def kinds_for(user: CurrentUser | None) -> tuple[str, ...]:
    return tuple(k for k in KINDS if may_create(user, k))


def program_not_found() -> DomainError:
    return DomainError(
        code="program_not_found", message=_("Program not found."), status_code=HTTP_404_NOT_FOUND
    )


def _forbidden() -> DomainError:
    return DomainError(
        code="program_forbidden",
        message=_("You may not change this program."),
        status_code=HTTP_403_FORBIDDEN,
    )


def _tour_forbidden() -> DomainError:
    message = _("Only Dinporapar staff may create educational-tourism packages.")
    return DomainError(
        code="tour_not_allowed",
        message=message,
        status_code=HTTP_403_FORBIDDEN,
        errors=[FieldError("kind", message)],
    )


def _require_editor(user: CurrentUser | None) -> CurrentUser:
    if user is None or not user.at_least(Role.ORGANISER):
        raise DomainError(
            code="not_allowed",
            message=_("Your account may not do this."),
            status_code=HTTP_403_FORBIDDEN,
        )
    return user


async def _load_for_change(user: CurrentUser | None, slug: str) -> dict[str, Any]:
    """The program row if `user` may change it. Someone who may not even see it (a draft of
    another organiser) gets 404, as if it did not exist; a public one, 403."""
    editor = _require_editor(user)
    row = (
        await Program.select().where(Program.slug == slug).first().run() if is_slug(slug) else None
    )
    if row is None:
        raise program_not_found()
    if not may_manage(editor, row):
        raise program_not_found() if row["status"] == "draft" else _forbidden()
    return row


async def get_program_for_change(user: CurrentUser | None, slug: str) -> dict[str, Any]:
    """The program detail for its edit page; 404/403 as for a change."""
    await _load_for_change(user, slug)
    detail = await get_program_detail(slug, user)
    if detail is None:  # pragma: no cover - deleted in between
        raise program_not_found()
    return detail


# ----------------------------------------------------------------------------- writing


def _program_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in {"sessions", "topics"}}


def _span(sessions: Sequence[Mapping[str, Any]]) -> tuple[datetime | None, datetime | None]:
    if not sessions:
        return None, None
    return min(s["starts_at"] for s in sessions), max(s["ends_at"] for s in sessions)


def _session_row(program_id: int, position: int, session: Mapping[str, Any]) -> ProgramSession:
    return ProgramSession(
        program=program_id,
        position=position,
        title=session["title"],
        starts_at=session["starts_at"],
        ends_at=session["ends_at"],
        location=session["location"],
        day=session["day"],
        checkin=session["checkin"],
    )


def _publish_errors(merged: Mapping[str, Any]) -> list[FieldError]:
    if not merged.get("sessions"):
        return [FieldError("sessions", _("Add at least one session or stop before publishing."))]
    return []


async def create_program(user: CurrentUser | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """A new program owned by `user`; a draft unless `data["publish"]`. Returns id, slug,
    status."""
    editor = _require_editor(user)
    values, errors = clean_program(data, partial=False)
    publish = clean_bool(errors, "publish", field_label("publish"), data.get("publish"))
    check_program(values, errors)
    if values.get("kind") == "tour" and not editor.is_office:
        raise _tour_forbidden()
    if not errors and publish:
        errors.items.extend(_publish_errors(values))
    if errors:
        raise ValidationFailed(errors.items, message=errors.items[0].message)
    sessions, topics = values["sessions"], values["topics"]
    first, last = _span(sessions)
    now = _now()
    columns = {
        **_program_columns(values),
        "organiser": editor.id,
        "status": "published" if publish else "draft",
        "published_at": now if publish else None,
        "first_starts_at": first,
        "last_ends_at": last,
        "created_at": now,
        "updated_at": now,
    }
    for attempt in range(CREATE_ATTEMPTS):
        try:
            async with db.write_transaction():
                slug = await unique_slug(values["title"])
                inserted = await Program.insert(Program(slug=slug, **columns)).run()
                program_id = int(inserted[0]["id"])
                if sessions:
                    await ProgramSession.insert(
                        *(_session_row(program_id, i, s) for i, s in enumerate(sessions))
                    ).run()
                if topics:
                    await ProgramTopic.insert(
                        *(ProgramTopic(program=program_id, topic=t) for t in topics)
                    ).run()
            return {"id": program_id, "slug": slug, "status": columns["status"]}
        except Exception as exc:
            if not _is_unique_violation(exc) or attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def update_program(
    user: CurrentUser | None, slug: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """PATCH: only the fields given change; `sessions` replaces the sessions (rows whose `id`
    is given and belongs to this program are kept and updated); `status` publishes or
    cancels. Unknown fields (an organiser id, say) are ignored."""
    async with db.write_transaction():
        row = await _load_for_change(user, slug)
        return await _apply_update(user, row, data)


async def _apply_update(
    user: CurrentUser | None, row: dict[str, Any], data: Mapping[str, Any]
) -> dict[str, Any]:
    editor = _require_editor(user)
    given = {k: data[k] for k in PROGRAM_FIELDS if k in data}
    if "sessions" in given and "kind" not in given:
        given["kind"] = row["kind"]  # tours number their stops' days
    values, errors = clean_program(given, partial=True)
    status = data.get("status")
    if "status" in data and status not in ("published", "cancelled", row["status"]):
        errors.add("status", _("Status must be published or cancelled."))
    program_id = row["id"]
    old_sessions = (
        await ProgramSession.select()
        .where(ProgramSession.program == program_id)
        .order_by(ProgramSession.position)
        .run()
    )
    merged: dict[str, Any] = {**row, "sessions": old_sessions, **values}
    check_program(merged, errors)
    if values.get("kind") == "tour" and row["kind"] != "tour" and not editor.is_office:
        raise _tour_forbidden()
    becomes = status if status in ("published", "cancelled") else row["status"]
    if not errors and becomes == "published":
        errors.items.extend(_publish_errors(merged))
    if errors:
        raise ValidationFailed(errors.items, message=errors.items[0].message)
    if row["status"] in ("cancelled", "finished") and (values or becomes != row["status"]):
        raise DomainError(
            code="program_closed",
            status_code=HTTP_409_CONFLICT,
            message=_("A cancelled or finished program cannot be changed."),
        )

    now = _now()
    columns = _program_columns(values)
    columns.pop("topics", None)
    changes = {"times": False, "place": False}
    if "sessions" in values:
        new_sessions = values["sessions"]
        changes = _what_moved(old_sessions, new_sessions)
        await _replace_sessions(program_id, old_sessions, new_sessions)
        columns["first_starts_at"], columns["last_ends_at"] = _span(new_sessions)
    for name in ("venue", "kecamatan", "latitude", "longitude"):
        if name in columns and columns[name] != row[name]:
            changes["place"] = True
    if becomes != row["status"]:
        columns["status"] = becomes
        if becomes == "published":
            columns["published_at"] = now
    columns["updated_at"] = now
    query = Program.update(cast(dict[Any, Any], columns)).where(Program.id == program_id)
    if "capacity" in columns:
        # Seats are taken by registration's conditional updates meanwhile: check in the write.
        query = query.where(Program.seats_taken <= columns["capacity"])
    if not await query.returning(Program.id).run():
        taken = (
            await Program.select(Program.seats_taken).where(Program.id == program_id).first().run()
        )
        message = _(
            "Capacity cannot be below the %(n)s seats already taken.",
            n=taken["seats_taken"] if taken else 0,
        )
        raise ValidationFailed([FieldError("capacity", message)], message=message)
    if "topics" in values:
        await ProgramTopic.delete().where(ProgramTopic.program == program_id).run()
        if values["topics"]:
            await ProgramTopic.insert(
                *(ProgramTopic(program=program_id, topic=t) for t in values["topics"])
            ).run()
    # Registrants exist only once published: tell them what moved, in this transaction.
    if row["status"] == "published" and becomes == "published" and any(changes.values()):
        await emit_program_changed(program_id, changes)
    if row["status"] == "published" and becomes == "cancelled":
        await emit_program_cancelled(program_id)
    if becomes == "published" and columns.get("capacity", 0) > row["capacity"]:
        await emit_capacity_raised(program_id)  # the waiting list moves up into the new seats
    return {"id": program_id, "slug": row["slug"], "status": becomes}


def _what_moved(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> dict[str, bool]:
    def times(rows: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, datetime]]:
        return sorted((r["starts_at"], r["ends_at"]) for r in rows)

    def places(rows: Sequence[Mapping[str, Any]]) -> set[str]:
        return {r["location"] for r in rows}  # another session at the same place moves nobody

    return {"times": times(old) != times(new), "place": places(old) != places(new)}


async def _replace_sessions(
    program_id: int, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> None:
    """Keep the rows named by id (check-ins point at them), update them, drop the rest and
    insert the new ones. An id of another program's session counts as a new row. Dropping a
    row that another domain still needs (check-ins) refuses the whole change."""
    old_ids = {r["id"] for r in old}
    kept: dict[int, int] = {}  # id -> new position
    fresh: list[tuple[int, Mapping[str, Any]]] = []
    for position, session in enumerate(new):
        ident = session.get("id")
        if isinstance(ident, int) and ident in old_ids and ident not in kept:
            kept[ident] = position
        else:
            fresh.append((position, session))
    gone = old_ids - kept.keys()
    if gone:
        await _refuse_removing_used(old, gone)  # before any write of this function
    for ident, position in kept.items():
        session = new[position]
        await (
            ProgramSession.update(
                {
                    ProgramSession.position: position,
                    ProgramSession.title: session["title"],
                    ProgramSession.starts_at: session["starts_at"],
                    ProgramSession.ends_at: session["ends_at"],
                    ProgramSession.location: session["location"],
                    ProgramSession.day: session["day"],
                    ProgramSession.checkin: session["checkin"],
                }
            )
            .where(ProgramSession.id == ident)
            .run()
        )
    if gone:
        await ProgramSession.delete().where(ProgramSession.id.is_in(sorted(gone))).run()
    if fresh:
        await ProgramSession.insert(
            *(_session_row(program_id, position, s) for position, s in fresh)
        ).run()


async def _refuse_removing_used(old: Sequence[Mapping[str, Any]], gone: set[int]) -> None:
    """ValidationFailed when a session or stop about to be deleted has check-ins: the delete
    would cascade to them and lose the attendance history."""
    if not db.is_sqlite(db.current_engine()):
        # A check-in being inserted holds a key-share lock on its session: wait for it to
        # commit, and make later ones wait for us, so the question below stays answered.
        # (SQLite's BEGIN IMMEDIATE already serialises every writer.)
        await (
            ProgramSession.select(ProgramSession.id)
            .where(ProgramSession.id.is_in(sorted(gone)))
            .lock_rows("UPDATE")
            .run()
        )
    used = await sessions_in_use(gone)
    if not used:
        return
    names = [
        r["title"] or _("Session %(n)s", n=index + 1)
        for index, r in enumerate(old)
        if r["id"] in used
    ]
    titles = ", ".join(f"“{name}”" for name in names)
    message = _(
        "%(field)s: check-ins are already recorded for %(titles)s. Sessions or stops with "
        "check-ins cannot be removed, or their attendance would be lost.",
        field=field_label("sessions"),
        titles=titles,
    )
    raise ValidationFailed([FieldError("sessions", message)], message=message)


async def publish_program(user: CurrentUser | None, slug: str) -> dict[str, Any]:
    return await update_program(user, slug, {"status": "published"})


async def cancel_program(user: CurrentUser | None, slug: str) -> dict[str, Any]:
    return await update_program(user, slug, {"status": "cancelled"})


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class CatalogFilters:
    kind: str | None = None
    q: str | None = None
    topic: str | None = None
    kecamatan: str | None = None
    month: tuple[int, int] | None = None
    free: bool = False
    seats: bool = False  # only programs with a confirmed seat still free
    page: int = 1

    def query_items(self, page: int | None = None) -> list[tuple[str, str]]:
        """The filters as query parameters (pager links keep them)."""
        items: list[tuple[str, str]] = []
        for name in ("kind", "q", "topic", "kecamatan"):
            value = getattr(self, name)
            if value:
                items.append((name, value))
        if self.month:
            items.append(("month", f"{self.month[0]:04d}-{self.month[1]:02d}"))
        if self.free:
            items.append(("free", "1"))
        if self.seats:
            items.append(("seats", "1"))
        if page and page > 1:
            items.append(("page", str(page)))
        return items


@dataclass
class FilterInput:
    """The raw query parameters, echoed back into the form as typed."""

    kind: str = ""
    q: str = ""
    topic: str = ""
    kecamatan: str = ""
    month: str = ""
    free: str = ""
    page: str = ""
    seats: str = ""
    errors: dict[str, str] = field(default_factory=dict)


_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_filters(
    kind: str | None = None,
    q: str | None = None,
    topic: str | None = None,
    kecamatan: str | None = None,
    month: str | None = None,
    free: str | None = None,
    page: str | None = None,
    *,
    seats: str | None = None,
) -> tuple[CatalogFilters, FilterInput]:
    """Filters from query text; a bad value is left out and named in `FilterInput.errors`."""
    raw = FilterInput(
        kind=kind or "",
        q=q or "",
        topic=topic or "",
        kecamatan=kecamatan or "",
        month=month or "",
        free=free or "",
        page=page or "",
        seats=seats or "",
    )
    errors = raw.errors
    clean: dict[str, Any] = {}
    if raw.kind.strip():
        if raw.kind.strip().lower() in KINDS:
            clean["kind"] = raw.kind.strip().lower()
        else:
            errors["kind"] = _("Choose the kind of program: workshop, sport or tour.")
    text = raw.q.strip()
    if text:
        if len(text) > MAX_QUERY:
            errors["q"] = _(
                "%(field)s: at most %(max)s characters.", field=field_label("q"), max=MAX_QUERY
            )
        elif _CONTROL.search(text) or not _encodable(text):
            errors["q"] = _(
                "%(field)s contains characters that are not allowed.", field=field_label("q")
            )
        else:
            clean["q"] = text
    topic_text = raw.topic.strip().lower()
    if topic_text:
        if len(topic_text) <= 40 and TOPIC_RE.match(topic_text):
            clean["topic"] = topic_text
        else:
            errors["topic"] = _(
                "Topic “%(topic)s”: use lower-case letters, digits and hyphens, at most "
                "%(max)s characters.",
                topic=topic_text[:40],
                max=40,
            )
    if raw.kecamatan.strip():
        wanted = raw.kecamatan.strip().lower()
        match = next((k for k in KECAMATAN if k.lower() == wanted), None)
        if match:
            clean["kecamatan"] = match
        else:
            errors["kecamatan"] = _("Choose one of the kecamatan of Purbalingga, or Lainnya.")
    if raw.month.strip():
        found = _MONTH_RE.match(raw.month.strip())
        if found and 2000 <= int(found[1]) <= 2100 and 1 <= int(found[2]) <= 12:
            clean["month"] = (int(found[1]), int(found[2]))
        else:
            errors["month"] = _("%(field)s must look like 2026-12.", field=field_label("month"))
    for name in ("free", "seats"):
        answer = getattr(raw, name).strip().lower()
        if answer in {"1", "true", "on", "yes"}:
            clean[name] = True
        elif answer and answer not in {"0", "false", "off", "no"}:
            errors[name] = _("%(field)s must be yes or no.", field=field_label(name))
    if raw.page.strip():
        number = raw.page.strip()
        if number.isdigit() and len(number) <= 6 and 1 <= int(number) <= MAX_PAGE:
            clean["page"] = int(number)
        else:
            errors["page"] = _(
                "%(field)s must be between %(min)s and %(max)s.",
                field=field_label("page"),
                min=1,
                max=MAX_PAGE,
            )
    return CatalogFilters(**clean), raw


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The month in WIB, as UTC instants."""
    tz = display_timezone()
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter_args(filters: CatalogFilters, now: datetime) -> tuple[Any, list[Any]]:
    """The catalogue's statement for these filters and its arguments, in the same order."""
    args: list[Any] = [now]
    if filters.kind:
        args.append(filters.kind)
    if filters.kecamatan:
        args.append(filters.kecamatan)
    if filters.month:
        args.extend(_month_bounds(*filters.month))
    if filters.topic:
        args.append(filters.topic)
    if filters.q:
        pattern = _like_pattern(filters.q)
        args.extend((pattern, pattern))
    shape = (
        bool(filters.kind),
        bool(filters.kecamatan),
        filters.free,
        filters.seats,
        bool(filters.month),
        bool(filters.topic),
        bool(filters.q),
    )
    return shape, args


def _topics_column() -> Any:
    """The program's topics as one comma-separated column of the same statement (topics are
    slug-like, so never contain a comma): no second query per page."""
    if db.is_sqlite(Program._meta.db):
        sql = (
            '(SELECT group_concat(t."topic", \',\') FROM "catalog_topic" t '
            'WHERE t."program" = "catalog_program"."id")'
        )
    else:
        sql = (
            '(SELECT string_agg(t."topic", \',\' ORDER BY t."id") FROM "catalog_topic" t '
            'WHERE t."program" = "catalog_program"."id")'
        )
    return QueryString(sql).as_alias("topics_csv")


def _listing(*extra: Any) -> Any:
    return Program.select(*_LIST_COLUMNS, Program.organiser.name, _topics_column(), *extra)


def _shape(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Topics as a list, seats left computed (never stored), the organiser's name."""
    for row in rows:
        for name in ("latitude", "longitude"):
            if row.get(name) is not None:
                # Stored as 4-byte floats on PostgreSQL: 5 decimals (about a metre) are exact.
                row[name] = round(float(row[name]), 5)
        row["topics"] = [t for t in (row.pop("topics_csv", None) or "").split(",") if t]
        row["seats_left"] = max(int(row["capacity"]) - int(row["seats_taken"]), 0)
        row["organiser_name"] = row.pop("organiser.name", None) or ""
    return rows


async def list_published(
    filters: CatalogFilters, *, per_page: int = PER_PAGE_API, now: datetime | None = None
) -> dict[str, Any]:
    """Published programs not yet over, soonest first, in ONE statement whatever their number:
    the page with organiser names, topics and the total (a window count)."""
    shape, args = _filter_args(filters, now or _now())
    rows = await statements.catalogue_page(*shape).fetch(
        *args, per_page, (filters.page - 1) * per_page
    )
    if rows:
        total = int(rows[0]["total_count"])
    elif filters.page > 1:  # past the last page: the window count has no row to ride on
        total = int((await statements.catalogue_count(*shape).fetch(*args))[0]["n"])
    else:
        total = 0
    for row in rows:
        row.pop("total_count", None)
    return {"items": _shape(rows), "total": total, "page": filters.page, "per_page": per_page}


async def list_upcoming_by_kind(
    limit: int = 4, *, now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The home page: the next `limit` published programs of each kind, in one statement (the
    first of each kind picked by a window ranking)."""
    now = now or _now()
    rows = await statements.UPCOMING_BY_KIND.fetch(now, now, limit)
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for row in _shape(rows):
        found.setdefault(row["kind"], []).append(row)
    return found


async def list_managed(user: CurrentUser, *, limit: int = 200) -> list[dict[str, Any]]:
    """The programs `user` may manage, newest first: an organiser's own, or all for office."""
    if not user.at_least(Role.ORGANISER):
        return []
    query = _listing()
    if not user.is_office:
        query = query.where(Program.organiser == user.id)
    rows = (
        await query.order_by(Program.first_starts_at, ascending=False)
        .order_by(Program.id, ascending=False)
        .limit(limit)
        .run()
    )
    return _shape(rows)


def _parse_sessions(raw: Any) -> list[dict[str, Any]]:
    items = json.loads(raw) if isinstance(raw, str | bytes) else (raw or [])
    sessions = []
    for item in items:
        if not item or item.get("id") is None:  # PostgreSQL's json_agg of no rows
            continue
        sessions.append(
            {
                **item,
                "starts_at": datetime.fromisoformat(item["starts_at"]).astimezone(UTC),
                "ends_at": datetime.fromisoformat(item["ends_at"]).astimezone(UTC),
                "checkin": bool(item["checkin"]),
            }
        )
    sessions.sort(key=lambda s: (s["position"], s["starts_at"]))
    return sessions


async def get_program_detail(slug: str, user: CurrentUser | None = None) -> dict[str, Any] | None:
    """One program with its sessions (or itinerary stops), topics and seats left, in one
    statement; None when it does not exist or is a draft `user` may not manage."""
    if not is_slug(slug):
        return None
    rows = await statements.PROGRAM_DETAIL.fetch(slug)
    row = rows[0] if rows else None
    if row is None or (row["status"] == "draft" and not may_manage(user, row)):
        return None
    (detail,) = _shape([row])
    detail["sessions"] = _parse_sessions(detail.pop("sessions_json", None))
    detail["may_manage"] = may_manage(user, row)
    return detail


def group_by_day(sessions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tour itinerary: [{"day", "date", "stops"}], in order; a stop without a day goes by its
    date."""
    days: dict[int, dict[str, Any]] = {}
    first_date = None
    for stop in sessions:
        local = stop["starts_at"].astimezone(display_timezone()).date()
        first_date = first_date or local
        number = stop.get("day") or (local - first_date).days + 1
        day = days.setdefault(number, {"day": number, "date": stop["starts_at"], "stops": []})
        day["stops"].append(stop)
    return [days[k] for k in sorted(days)]


def registration_state(program: Mapping[str, Any], now: datetime | None = None) -> str:
    """What the program page says about registering: open, not_yet, closed, over, cancelled,
    draft."""
    now = now or _now()
    status = program["status"]
    if status in ("draft", "cancelled"):
        return str(status)
    if status == "finished" or (program["last_ends_at"] and program["last_ends_at"] < now):
        return "over"
    if program["registration_opens_at"] and program["registration_opens_at"] > now:
        return "not_yet"
    if program["registration_closes_at"] and program["registration_closes_at"] <= now:
        return "closed"
    return "open"
