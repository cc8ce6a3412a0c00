"""Rows that have served their purpose, deleted now and then by the scheduler.

Each domain registers what it purges (`on_housekeeping`); the scheduler (messaging) runs them
all once an hour, in every process that runs it: each task is one idempotent DELETE, so two
schedulers at once do no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

log = logging.getLogger(__name__)

# task(now) -> rows deleted
Task = Callable[[datetime], Awaitable[int]]
_tasks: dict[str, Task] = {}


def on_housekeeping(name: str) -> Callable[[Task], Task]:
    def register(task: Task) -> Task:
        _tasks[name] = task
        return task

    return register


async def run_housekeeping(now: datetime) -> dict[str, int]:
    """Every task once; one that fails is logged and the others still run."""
    deleted: dict[str, int] = {}
    for name, task in list(_tasks.items()):
        try:
            deleted[name] = await task(now)
        except Exception:
            log.exception("housekeeping task %s failed", name)
    return deleted
