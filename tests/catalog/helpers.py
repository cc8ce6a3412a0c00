"""Helpers of the catalog tests: staff with API tokens, program bodies, query counting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_staff, make_token
from youth_hub import db, sql
from youth_hub.accounts import CurrentUser, Role


async def staff_with_token(role: str) -> tuple[dict[str, Any], dict[str, str]]:
    user = await make_staff(role=role)
    token = await make_token(user)
    return user, {"Authorization": f"Bearer {token}"}


def as_current(user: dict[str, Any]) -> CurrentUser:
    return CurrentUser(
        id=user["id"], email=user["email"], name=user["name"], role=Role(user["role"])
    )


def in_days(days: float, hour: int = 2) -> datetime:
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


def program_body(**overrides: Any) -> dict[str, Any]:
    start = in_days(10)
    body: dict[str, Any] = {
        "kind": "workshop",
        "title": "Kelas Coding Pemuda",
        "summary": "Belajar membuat website",
        "description": "Empat pertemuan.",
        "topics": ["coding", "teknologi"],
        "venue": "Aula Kecamatan Bobotsari",
        "kecamatan": "Bobotsari",
        "capacity": 20,
        "price_idr": 50000,
        "age_min": 15,
        "age_max": 25,
        "sessions": [
            {
                "title": "Pertemuan 1",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=3)).isoformat(),
                "location": "Aula",
                "checkin": True,
            },
        ],
    }
    body.update(overrides)
    return body


def tour_body(**overrides: Any) -> dict[str, Any]:
    day1 = in_days(20, hour=0)  # 07.00 WIB
    stops = [
        {
            "title": "Berkumpul",
            "starts_at": day1,
            "ends_at": day1 + timedelta(minutes=30),
            "location": "Alun-alun Purbalingga",
            "checkin": True,
        },
        {
            "title": "Owabong",
            "starts_at": day1 + timedelta(hours=1),
            "ends_at": day1 + timedelta(hours=4),
            "location": "Bojongsari",
        },
        {
            "title": "Goa Lawa",
            "starts_at": day1 + timedelta(days=1, hours=1),
            "ends_at": day1 + timedelta(days=1, hours=4),
            "location": "Karangreja",
            "checkin": True,
        },
    ]
    body = program_body(
        kind="tour",
        title="Wisata Edukatif Owabong",
        kecamatan="Bojongsari",
        price_idr=150000,
        topics=["wisata-edukatif"],
        sessions=[
            {**s, "starts_at": s["starts_at"].isoformat(), "ends_at": s["ends_at"].isoformat()}
            for s in stops
        ],
    )
    body.update(overrides)
    return body


@contextlib.contextmanager
def count_queries() -> Iterator[list[str]]:
    """Every statement the current engine runs while inside, as text: Piccolo's (engines have
    __slots__, so the method is wrapped on the class, counting only this engine's calls) and
    the hand-written ones of youth_hub.sql (its statement observers)."""
    engine = db.current_engine()
    cls = type(engine)
    original = cls.run_querystring
    seen: list[str] = []

    async def counting(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        if self is engine:
            seen.append(str(querystring))
        return await original(self, querystring, *args, **kwargs)

    cls.run_querystring = counting  # type: ignore[method-assign]
    sql.statement_observers.append(seen.append)
    try:
        yield seen
    finally:
        cls.run_querystring = original  # type: ignore[method-assign]
        sql.statement_observers.remove(seen.append)
