"""Housekeeping: idempotency answers and /my links are deleted once they served their time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from youth_hub import housekeeping
from youth_hub.housekeeping import run_housekeeping
from youth_hub.messaging.scheduler import HOUSEKEEPING_JOB_ID, build_scheduler
from youth_hub.registration.tables import IdempotentRequest, MyTicketsLink
from youth_hub.settings import Settings

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


async def _seed() -> None:
    await IdempotentRequest.insert(
        IdempotentRequest(key="old", created_at=NOW - timedelta(days=8)),
        IdempotentRequest(key="recent", created_at=NOW - timedelta(days=6)),
    ).run()
    await MyTicketsLink.insert(
        MyTicketsLink(
            token_hash="a" * 64, email="a@example.id", expires_at=NOW - timedelta(days=2)
        ),
        MyTicketsLink(
            token_hash="b" * 64, email="b@example.id", expires_at=NOW - timedelta(hours=2)
        ),
        MyTicketsLink(
            token_hash="c" * 64, email="c@example.id", expires_at=NOW + timedelta(minutes=20)
        ),
    ).run()


async def test_stale_rows_go_recent_ones_stay(engine: Any) -> None:
    await _seed()
    deleted = await run_housekeeping(NOW)
    assert deleted["registration.idempotency"] == 1
    assert deleted["registration.my_links"] == 1
    keys = await IdempotentRequest.select(IdempotentRequest.key).run()
    assert [r["key"] for r in keys] == ["recent"]
    links = await MyTicketsLink.select(MyTicketsLink.email).order_by(MyTicketsLink.email).run()
    assert [r["email"] for r in links] == ["b@example.id", "c@example.id"]
    assert await run_housekeeping(NOW) == {
        "registration.idempotency": 0,
        "registration.my_links": 0,
    }


async def test_a_failing_task_does_not_stop_the_others(
    engine: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await _seed()

    async def broken(_now: datetime) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(housekeeping._tasks, "aaa.broken", broken)
    deleted = await run_housekeeping(NOW)
    assert "aaa.broken" not in deleted
    assert deleted["registration.idempotency"] == 1
    assert "housekeeping task aaa.broken failed" in caplog.text


def test_the_scheduler_runs_housekeeping_hourly(settings: Settings) -> None:
    scheduler = build_scheduler(settings)
    job = scheduler.get_job(HOUSEKEEPING_JOB_ID)
    assert job is not None
    assert job.trigger.interval == timedelta(hours=1)
