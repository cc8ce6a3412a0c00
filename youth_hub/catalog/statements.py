"""The public pages' reads (home, catalogue, program page) as hand-written statements.

Each page is one statement whatever the number of programs, as before; written once here
instead of built by Piccolo per request (its query building cost more than the read itself),
and run by `youth_hub.sql.fetch` (on SQLite without the hop to a connection's thread). The
few aggregate functions that differ between SQLite and PostgreSQL make two texts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from youth_hub import db, sql
from youth_hub.catalog.tables import Program
from youth_hub.sql import Statement


class Read:
    """One read in each dialect, with `{}` placeholders."""

    __slots__ = ("_postgres", "_sqlite")

    def __init__(self, sqlite_text: str, postgres_text: str) -> None:
        self._sqlite, self._postgres = Statement(sqlite_text), Statement(postgres_text)

    async def fetch(self, *args: Any) -> list[dict[str, Any]]:
        engine = db.current_engine()
        statement = self._sqlite if db.is_sqlite(engine) else self._postgres
        if engine.current_transaction.get() is not None:  # a read inside a write: in it
            return await sql.run_within(sql.single(statement, *args))
        return await sql.fetch(statement, *args)


def _both(text: str) -> Read:
    """`text` with %(topics)s and %(sessions)s filled in for each dialect."""
    sqlite_parts = {
        # Topics are slug-like (never a comma): one comma-separated column.
        "topics": "(SELECT group_concat(t.topic, ',') FROM catalog_topic t WHERE t.program = p.id)",
        "sessions": f"(SELECT json_group_array(json_object({_SESSION_PAIRS})) "
        "FROM catalog_session s WHERE s.program = p.id)",
    }
    postgres_parts = {
        "topics": "(SELECT string_agg(t.topic, ',' ORDER BY t.id) FROM catalog_topic t "
        "WHERE t.program = p.id)",
        "sessions": f"(SELECT json_agg(json_build_object({_SESSION_PAIRS})) "
        "FROM catalog_session s WHERE s.program = p.id)",
    }
    return Read(text % sqlite_parts, text % postgres_parts)


SESSION_FIELDS = ("id", "position", "title", "starts_at", "ends_at", "location", "day", "checkin")
_SESSION_PAIRS = ", ".join(f"'{name}', s.\"{name}\"" for name in SESSION_FIELDS)

# What a card shows; the organiser's name under the key Piccolo's join gave it.
_CARD = (
    "p.id, p.slug, p.kind, p.title, p.summary, p.venue, p.kecamatan, p.latitude, p.longitude, "
    "p.capacity, p.seats_taken, p.waitlist_limit, p.waitlist_taken, p.price_idr, p.age_min, "
    "p.age_max, p.registration_opens_at, p.registration_closes_at, p.status, "
    'p.first_starts_at, p.last_ends_at, p.organiser, u.name AS "organiser.name", '
    "%(topics)s AS topics_csv"
)
_FROM = "FROM catalog_program p LEFT JOIN accounts_staff_user u ON u.id = p.organiser"
_LIVE = "p.status = 'published' AND p.last_ends_at >= {}"

# The home page: the next `limit` published programs of each kind (a window ranking).
UPCOMING_BY_KIND = _both(
    f"SELECT {_CARD} {_FROM} WHERE {_LIVE} AND p.id IN ("
    "SELECT r.id FROM (SELECT q.id AS id, ROW_NUMBER() OVER ("
    "PARTITION BY q.kind ORDER BY q.first_starts_at, q.id) AS rank FROM catalog_program q "
    "WHERE q.status = 'published' AND q.last_ends_at >= {}) r WHERE r.rank <= {}) "
    "ORDER BY p.first_starts_at, p.id"
)

# The program page (and a ticket's program): every column, topics and sessions.
_ALL_COLUMNS = ", ".join(f'p."{c._meta.db_column_name}"' for c in Program._meta.columns)
PROGRAM_DETAIL = _both(
    f'SELECT {_ALL_COLUMNS}, u.name AS "organiser.name", %(topics)s AS topics_csv, '
    f"%(sessions)s AS sessions_json {_FROM} WHERE p.slug = {{}} LIMIT 1"
)


def _catalogue_where(
    kind: bool, kecamatan: bool, free: bool, seats: bool, month: bool, topic: bool, q: bool
) -> str:
    """The catalogue's conditions; the arguments follow in this order (`now` first)."""
    where = _LIVE
    if kind:
        where += " AND p.kind = {}"
    if kecamatan:
        where += " AND p.kecamatan = {}"
    if free:
        where += " AND p.price_idr = 0"
    if seats:
        where += " AND p.seats_taken < p.capacity"
    if month:
        where += " AND p.first_starts_at >= {} AND p.first_starts_at < {}"
    if topic:
        where += " AND p.id IN (SELECT t.program FROM catalog_topic t WHERE t.topic = {})"
    if q:
        where += " AND (lower(p.title) LIKE {} ESCAPE '\\' OR lower(p.summary) LIKE {} ESCAPE '\\')"
    return where


@cache
def catalogue_page(
    kind: bool, kecamatan: bool, free: bool, seats: bool, month: bool, topic: bool, q: bool
) -> Read:
    """One page of the catalogue with its total (a window count), soonest first; then the
    limit and offset. One text per combination of filters (128 at most), made once."""
    where = _catalogue_where(kind, kecamatan, free, seats, month, topic, q)
    return _both(
        f"SELECT {_CARD}, COUNT(*) OVER () AS total_count {_FROM} WHERE {where} "
        "ORDER BY p.first_starts_at, p.id LIMIT {} OFFSET {}"
    )


@cache
def catalogue_count(
    kind: bool, kecamatan: bool, free: bool, seats: bool, month: bool, topic: bool, q: bool
) -> Read:
    """The total alone, for a page past the last (the window count has no row to ride on)."""
    where = _catalogue_where(kind, kecamatan, free, seats, month, topic, q)
    return _both(f"SELECT COUNT(*) AS n FROM catalog_program p WHERE {where}")
