"""APScheduler 3.x, created inside the lifespan (or alone by `youth-hub scheduler`).

The database, not the scheduler's memory, holds what is due: jobs only tick.
"""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from youth_hub.settings import Settings


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    # The messaging issue adds the outbox sweep here (send_due_messages every tick).
    return scheduler
