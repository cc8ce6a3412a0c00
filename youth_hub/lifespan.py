"""Start and stop what lives as long as the app: the database pool and the scheduler."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from piccolo.engine.base import Engine

from youth_hub import db
from youth_hub.settings import Settings


def make_lifespan(settings: Settings, engine: Engine, *, run_scheduler: bool) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db.use_engine(engine)  # this app's database, even if another was bound since create_app
        await db.start(engine)
        app.state.scheduler = None
        if run_scheduler:
            from youth_hub.messaging.scheduler import build_scheduler

            scheduler = build_scheduler(settings)
            scheduler.start()
            app.state.scheduler = scheduler
        try:
            yield
        finally:
            if app.state.scheduler is not None:
                app.state.scheduler.shutdown(wait=True)
                app.state.scheduler = None
            await db.stop(engine)

    return lifespan
