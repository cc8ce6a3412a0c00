"""Factories with domain names: `make_staff(role="organiser")`, `make_program(capacity=2)`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from youth_hub.accounts.passwords import hash_password, new_api_token
from youth_hub.accounts.tables import ApiToken, StaffUser
from youth_hub.catalog.tables import Program, ProgramSession, ProgramTopic

_seq = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery staple"
# argon2 is slow on purpose; factories hash once.
_DEFAULT_HASH = hash_password(DEFAULT_PASSWORD)


async def make_staff(
    role: str = "organiser", email: str | None = None, name: str = "", password: str | None = None
) -> dict[str, Any]:
    n = next(_seq)
    row = StaffUser(
        email=email or f"{role}{n}@example.test",
        name=name or f"{role.title()} {n}",
        role=role,
        password_hash=hash_password(password) if password else _DEFAULT_HASH,
    )
    await row.save().run()
    return row.to_dict()


async def make_token(user: dict[str, Any]) -> str:
    token, digest = new_api_token()
    await ApiToken(user=user["id"], token_hash=digest, label="test").save().run()
    return token


async def make_program(
    *,
    kind: str = "workshop",
    title: str | None = None,
    organiser: dict[str, Any] | None = None,
    capacity: int = 20,
    waitlist_limit: int | None = None,
    price_idr: int = 0,
    age_min: int = 16,
    age_max: int = 30,
    status: str = "published",
    kecamatan: str = "Purbalingga",
    starts_at: datetime | None = None,
    sessions: int = 1,
    topics: tuple[str, ...] = ("leadership",),
    registration_opens_at: datetime | None = None,
    registration_closes_at: datetime | None = None,
    checkin: bool = True,
) -> dict[str, Any]:
    n = next(_seq)
    start = starts_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    title = title or f"Program {n}"
    program = Program(
        slug=f"program-{n}",
        kind=kind,
        title=title,
        summary=f"Summary of {title}",
        description=f"Description of {title}",
        organiser=organiser["id"] if organiser else None,
        venue="Pendopo Dipokusumo",
        kecamatan=kecamatan,
        capacity=capacity,
        waitlist_limit=waitlist_limit,
        price_idr=price_idr,
        age_min=age_min,
        age_max=age_max,
        status=status,
        registration_opens_at=registration_opens_at,
        registration_closes_at=registration_closes_at,
        first_starts_at=start,
        last_ends_at=start + timedelta(days=7 * (sessions - 1), hours=3),
        published_at=datetime.now(UTC) if status == "published" else None,
    )
    await program.save().run()
    for i in range(sessions):
        begins = start + timedelta(days=7 * i)
        await (
            ProgramSession(
                program=program.id,
                position=i,
                title=f"Session {i + 1}",
                starts_at=begins,
                ends_at=begins + timedelta(hours=3),
                location="Aula",
                day=(i + 1) if kind == "tour" else None,
                checkin=checkin,
            )
            .save()
            .run()
        )
    for topic in topics:
        await ProgramTopic(program=program.id, topic=topic).save().run()
    return program.to_dict()


async def make_registration(
    program: dict[str, Any],
    *,
    status: str = "confirmed",
    full_name: str | None = None,
    first_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    birth_date: Any = None,
    school: str = "SMA Negeri 1 Purbalingga",
) -> dict[str, Any]:
    """A registration row straight in the table (confirmed by default), without the rules."""
    import secrets
    from datetime import date

    from youth_hub.registration.tables import Registration

    n = next(_seq)
    full_name = full_name or f"Ayu Lestari {n}"
    row = Registration(
        code=secrets.token_urlsafe(16),
        program=program["id"],
        status=status,
        waitlist_seq=n if status == "waitlisted" else None,
        full_name=full_name,
        first_name=full_name.split()[0] if first_name is None else first_name,
        email=email or f"peserta{n}@example.test",
        phone=phone or f"+62812{n:07d}",
        birth_date=birth_date or date(2005, 5, 17),
        kecamatan="Bukateja",
        school=school,
        cancelled_at=datetime.now(UTC) if status == "cancelled" else None,
    )
    await row.save().run()
    return row.to_dict()
