"""Small helpers shared by the check-in tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.factories import make_program, make_registration, make_staff
from youth_hub.accounts import CurrentUser, Role
from youth_hub.checkin.tables import ScannerAssignment
from youth_hub.settings import Settings
from youth_hub.tickets import sign_ticket


def as_user(staff: dict[str, Any]) -> CurrentUser:
    return CurrentUser(
        id=staff["id"], email=staff["email"], name=staff["name"], role=Role(staff["role"])
    )


def ticket(settings: Settings, registration: dict[str, Any]) -> str:
    return sign_ticket(settings.data_dir, registration["id"], registration["program"])


async def assign(program: dict[str, Any], staff: dict[str, Any]) -> None:
    await ScannerAssignment(program=program["id"], user=staff["id"]).save().run()


async def door(starts_at: datetime, **program_kwargs: Any) -> dict[str, Any]:
    """An organiser's program starting at `starts_at`, an assigned scanner, one registrant."""
    organiser = await make_staff("organiser")
    program = await make_program(organiser=organiser, starts_at=starts_at, **program_kwargs)
    scanner = await make_staff("scanner")
    await assign(program, scanner)
    registration = await make_registration(
        program, full_name="Siti Nurhaliza Rahma", first_name="Siti"
    )
    return {
        "organiser": organiser,
        "program": program,
        "scanner": scanner,
        "registration": registration,
    }


def within_window(starts_at: datetime) -> datetime:
    return starts_at + timedelta(minutes=10)


async def sessions_of(program: dict[str, Any]) -> list[dict[str, Any]]:
    from youth_hub.catalog.tables import ProgramSession

    return list(
        await ProgramSession.select()
        .where(ProgramSession.program == program["id"])
        .order_by(ProgramSession.starts_at)
        .run()
    )
