"""The ticket page's own read of a registration gives what registration's get_registration
gives, for each status, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.catalog.helpers import count_queries
from tests.factories import make_program, make_registration
from youth_hub.registration import get_registration
from youth_hub.tickets.services import _registration, load_ticket


async def test_the_ticket_read_matches_get_registration(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=5)
    rows = [
        await make_registration(program),
        await make_registration(program, status="waitlisted"),
        await make_registration(program, status="waitlisted"),
        await make_registration(program, status="cancelled"),
    ]
    for row in rows:
        assert await _registration(row["code"]) == await get_registration(row["code"])
    assert (await _registration(rows[2]["code"]) or {})["waitlist_position"] == 2
    assert await _registration("no-such-code-at-all") is None


async def test_a_ticket_is_two_reads_whatever_its_status(engine: Any) -> None:
    program = await make_program(capacity=1, waitlist_limit=5, sessions=3)
    for status in ("confirmed", "waitlisted", "cancelled"):
        row = await make_registration(program, status=status)
        with count_queries() as seen:
            ticket = await load_ticket(row["code"], data_dir=None)
        assert ticket is not None and ticket.status == status
        assert len(seen) == 2  # the registration (waiting-list place included), the program
