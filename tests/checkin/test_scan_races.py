"""A scan whose session or registration is deleted between its read and its write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.checkin.helpers import as_user, door, sessions_of, ticket, within_window
from youth_hub.catalog.tables import ProgramSession
from youth_hub.checkin import services
from youth_hub.checkin.tables import CheckIn, ScanLog
from youth_hub.settings import Settings

START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


async def test_session_deleted_after_the_read_is_judged_again_not_a_server_error(
    engine: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = await door(START)
    session = (await sessions_of(setup["program"]))[0]
    record = services._record
    calls = []

    async def delete_first(*args: Any) -> services.CheckinAnswer:
        if not calls:  # the organiser removes the session while the scan is on its way
            await ProgramSession.delete().where(ProgramSession.id == session["id"]).run()
        calls.append(args[1].result)
        return await record(*args)

    monkeypatch.setattr(services, "_record", delete_first)
    answer = await services.perform_checkin(
        ticket(settings, setup["registration"]),
        setup["program"]["slug"],
        scanner=as_user(setup["scanner"]),
        now=within_window(START),
        data_dir=settings.data_dir,
    )
    assert calls == ["ok", "outside_window"]  # the insert failed, the second look found none
    assert answer.result == "outside_window"
    assert await CheckIn.count().run() == 0
    assert [r["result"] for r in await ScanLog.select(ScanLog.result).run()] == ["outside_window"]
