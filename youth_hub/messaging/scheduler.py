"""APScheduler 3.x, created inside the lifespan (or alone by `youth-hub scheduler`).

The database, not the scheduler's memory, holds what is due: jobs only tick. Every process
may run one (web workers and `youth-hub scheduler` alike); the outbox claims keep each
message to one sender.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from youth_hub import db
from youth_hub.housekeeping import run_housekeeping
from youth_hub.messaging.config import configure
from youth_hub.messaging.planning import run_planning
from youth_hub.messaging.services import (
    DEFAULT_LEASE,
    SweepReport,
    default_worker_id,
    send_due_messages,
)
from youth_hub.settings import Settings
from youth_hub.web import formats

log = logging.getLogger("youth_hub.messaging")
# APScheduler logs every tick at INFO: with a 30 s tick that drowns the server log.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

JOB_ID = "outbox_tick"
HOUSEKEEPING_JOB_ID = "housekeeping"
HOUSEKEEPING_EVERY = timedelta(hours=1)
SHUTDOWN_GRACE_S = 30.0


class Ticker:
    """One tick: plan reminders and digests, then send what is due."""

    def __init__(self, settings: Settings, *, lease: timedelta = DEFAULT_LEASE) -> None:
        self.settings = settings
        self.lease = lease
        self.worker_id = default_worker_id()
        self.stopping = False
        self.busy = asyncio.Lock()
        self.last_report: SweepReport | None = None
        self.digests_done: set[date] = set()

    async def tick(self) -> None:
        if self.stopping:
            return
        async with self.busy:
            try:
                await run_planning(self.settings, digests_done=self.digests_done)
            except Exception:  # sending must not wait on a planning bug
                log.exception("planning messages failed")
            try:
                self.last_report = await send_due_messages(
                    self.settings,
                    worker_id=self.worker_id,
                    lease=self.lease,
                    keep_going=lambda: not self.stopping,
                )
            except Exception:
                log.exception("sending messages failed")

    async def stop(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """Let the message in flight finish, then return (no new claims after this)."""
        self.stopping = True
        try:
            async with asyncio.timeout(grace):
                async with self.busy:
                    pass
        except TimeoutError:
            log.warning("scheduler stopped with a sweep still running")


def build_scheduler(settings: Settings, *, lease: timedelta = DEFAULT_LEASE) -> AsyncIOScheduler:
    configure(settings)
    formats.configure_timezone(settings.timezone)
    scheduler = AsyncIOScheduler(timezone="UTC")
    ticker = Ticker(settings, lease=lease)
    scheduler.add_job(
        ticker.tick,
        "interval",
        seconds=settings.scheduler_tick,
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # first sweep at start, not one tick later
        misfire_grace_time=None,
    )
    scheduler.add_job(
        _housekeeping,
        "interval",
        seconds=HOUSEKEEPING_EVERY.total_seconds(),
        id=HOUSEKEEPING_JOB_ID,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC) + timedelta(minutes=1),  # not in the start-up rush
        misfire_grace_time=None,
    )
    return scheduler


async def _housekeeping() -> None:
    deleted = await run_housekeeping(datetime.now(UTC))
    if any(deleted.values()):
        log.info("housekeeping deleted %s", deleted)


def ticker_of(scheduler: AsyncIOScheduler) -> Ticker:
    job = scheduler.get_job(JOB_ID)
    ticker = job.func.__self__
    assert isinstance(ticker, Ticker)
    return ticker


async def run_scheduler_forever(
    settings: Settings,
    *,
    lease: timedelta = DEFAULT_LEASE,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """`youth-hub scheduler`: the database bound and migrated, ticks until SIGTERM/SIGINT,
    then lets the message in flight finish and stops."""
    engine = db.make_engine(settings.database_url)
    db.use_engine(engine)
    await db.start(engine)
    try:
        await db.migrate(engine, settings.database_url)
        scheduler = build_scheduler(settings, lease=lease)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        scheduler.start()
        mode = "sending" if settings.smtp_url else "no YOUTH_HUB_SMTP_URL: messages wait"
        print(f"Youth Hub scheduler running ({mode}).", file=sys.stderr, flush=True)
        if on_ready is not None:
            on_ready()
        try:
            await stop.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            scheduler.pause()
            await ticker_of(scheduler).stop()
            scheduler.shutdown(wait=False)
            print("Youth Hub scheduler stopped.", file=sys.stderr, flush=True)
    finally:
        await db.stop(engine)
