"""Messaging hears about programs through catalog's signals (catalog knows nothing of us).

The listeners run inside catalog's write transaction, so a moved program and its re-planned
reminders are stored together. Planning is imported when a signal fires, not at import time,
so that importing messaging never drags registration in (registration imports messaging).
"""

from __future__ import annotations

from typing import Any

from youth_hub.catalog import signals


async def program_changed(program_id: int, changes: dict[str, Any]) -> None:
    from youth_hub.messaging.config import current_settings
    from youth_hub.messaging.planning import replan_program

    await replan_program(program_id, changes, current_settings())


async def program_cancelled(program_id: int) -> None:
    from youth_hub.messaging.config import current_settings
    from youth_hub.messaging.planning import cancel_program_messages

    await cancel_program_messages(program_id, current_settings())


def connect_signals() -> None:
    """Idempotent: catalog keeps each listener once."""
    signals.on_program_changed(program_changed)
    signals.on_program_cancelled(program_cancelled)


connect_signals()
