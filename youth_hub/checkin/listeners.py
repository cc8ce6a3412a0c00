"""Check-in answers catalog's question before sessions or stops are deleted: those with
check-ins are still needed (the delete would cascade to the attendance history). Catalog asks
inside its write transaction, so the answer and the delete are one."""

from __future__ import annotations

from collections.abc import Collection

from youth_hub.catalog import signals
from youth_hub.checkin.tables import CheckIn


async def sessions_with_checkins(session_ids: Collection[int]) -> set[int]:
    if not session_ids:
        return set()
    rows = (
        await CheckIn.select(CheckIn.session)
        .where(CheckIn.session.is_in(list(session_ids)))
        .distinct()
        .run()
    )
    return {int(r["session"]) for r in rows}


def connect_signals() -> None:
    """Idempotent: catalog keeps each listener once."""
    signals.on_sessions_removing(sessions_with_checkins)


connect_signals()
