"""Registration hears when a program gains seats (catalog's signal) and fills them from the
waiting list inside catalog's write transaction, so the new capacity and the promotions are
stored together."""

from __future__ import annotations

from datetime import UTC, datetime

from youth_hub.catalog import signals


async def capacity_raised(program_id: int) -> None:
    from youth_hub.messaging.config import current_settings
    from youth_hub.registration.services import _fill_free_seats

    await _fill_free_seats(program_id, now=datetime.now(UTC), base_url=current_settings().base_url)


signals.on_capacity_raised(capacity_raised)
