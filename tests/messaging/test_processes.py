"""Whole processes: two `youth-hub scheduler` processes on one database, a process killed
with SIGKILL in the middle of a send, the scheduler inside the app, a clean SIGTERM."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import make_program
from tests.messaging.support import MailServer, add_registration, mail_server
from tests.support.live import ROOT, server_env
from youth_hub import db
from youth_hub.messaging import enqueue_message
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.settings import Settings

YOUTH_HUB = str(Path(sys.executable).parent / "youth-hub")


@dataclasses.dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.popen.poll() is None, f"exited early:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r}:\n{self.output()[-3000:]}"
            time.sleep(0.05)


@contextmanager
def scheduler_process(
    settings: Settings, smtp: MailServer, name: str, command: list[str] | None = None
) -> Iterator[Process]:
    env = server_env(
        settings.database_url,
        settings.data_dir,
        YOUTH_HUB_SMTP_URL=smtp.url,
        YOUTH_HUB_SCHEDULER_TICK="0.3",
        YOUTH_HUB_BASE_URL="http://youthhub.test",
    )
    log = settings.data_dir / f"{name}.log"
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            command or [YOUTH_HUB, "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    process = Process(popen, log)
    try:
        process.wait_for_output("scheduler running")
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


async def _enqueue_many(settings: Settings, count: int) -> None:
    program = await make_program()
    registrations = [await add_registration(program) for _ in range(count)]
    # All at once: both processes find the whole batch due on the same tick.
    async with db.write_transaction():
        for registration in registrations:
            await enqueue_message(
                kind="confirmation",
                to_email=registration["email"],
                to_name=registration["full_name"],
                ticket_code=registration["code"],
                program_id=program["id"],
                base_url=settings.base_url,
            )


async def _outbox_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await OutboxMessage.select(
            OutboxMessage.message_id,
            OutboxMessage.state,
            OutboxMessage.claimed_by,
            OutboxMessage.attempts,
        )
        .where(OutboxMessage.kind == "confirmation")
        .run()
    )  # the ticks also plan reminders

    return rows


def _wait_until_all_sent(seed: Any, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = seed(_outbox_rows)
        if sum(r["state"] == "sent" for r in rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_two_scheduler_processes_deliver_each_message_once(settings: Settings, seed: Any) -> None:
    count = 48
    seed(_enqueue_many, settings, 0)  # migrate before two processes race to it
    with (
        mail_server(delay=0.03) as smtp,
        scheduler_process(settings, smtp, "one") as one,
        scheduler_process(settings, smtp, "two") as two,
    ):
        seed(_enqueue_many, settings, count)
        rows = _wait_until_all_sent(seed, count)
        smtp.wait_for(count)
        time.sleep(1.0)  # a few more ticks of both: nothing more may go out
        for process in (one, two):
            process.popen.send_signal(signal.SIGTERM)
        for process in (one, two):
            assert process.popen.wait(timeout=30) == 0, process.output()
            assert "scheduler stopped" in process.output()
    assert sorted(r["state"] for r in rows) == ["sent"] * count
    assert len(smtp.messages) == count
    assert set(smtp.message_ids().values()) == {1}
    assert set(smtp.message_ids()) == {r["message_id"] for r in rows}
    # both processes really took part (each claimed some rows), and neither sent twice
    workers = {r["claimed_by"].rsplit(":", 1)[0] for r in rows}
    assert len(workers) == 2, workers


def test_process_killed_mid_send_loses_nothing_and_doubles_at_most_the_one_in_flight(
    settings: Settings, seed: Any
) -> None:
    count = 12
    seed(_enqueue_many, settings, 0)
    # The server stores the 4th message and then holds its answer: the sender dies in the
    # window between the server's acceptance and its own record of it.
    with mail_server(block_at=4) as smtp:
        with scheduler_process(settings, smtp, "victim") as victim:
            seed(_enqueue_many, settings, count)
            assert smtp.in_flight.wait(timeout=30), victim.output()
            # The three accepted before it are recorded while the fourth hangs (each as soon
            # as the server accepted it): the kill hits exactly one message in its window.
            _wait_until_all_sent(seed, 3, timeout=30)
            os.kill(victim.popen.pid, signal.SIGKILL)
            victim.popen.wait(timeout=10)
        in_flight = str(smtp.messages[3]["Message-ID"])
        smtp.release.set()
        states = {r["message_id"]: r["state"] for r in seed(_outbox_rows)}
        assert states[in_flight] == "sending"  # claimed by the dead process
        restart = [sys.executable, "-m", "tests.messaging.worker", "2"]  # a 2-second lease
        with scheduler_process(settings, smtp, "restarted", restart):
            rows = _wait_until_all_sent(seed, count)
    assert sorted(r["state"] for r in rows) == ["sent"] * count
    delivered = smtp.message_ids()
    assert set(delivered) == {r["message_id"] for r in rows}  # nothing lost
    assert {m: n for m, n in delivered.items() if m != in_flight} == {
        r["message_id"]: 1 for r in rows if r["message_id"] != in_flight
    }  # nothing doubled
    assert 1 <= delivered[in_flight] <= 2  # the one in flight: at most once more


async def test_scheduler_inside_the_app_reports_running_and_sends(
    engine: Any, settings: Settings
) -> None:
    from youth_hub.app import create_app

    with mail_server() as smtp:
        mail = dataclasses.replace(settings, smtp_url=smtp.url, scheduler_tick=0.2)
        program = await make_program()
        registration = await add_registration(program)
        await enqueue_message(
            kind="confirmation",
            to_email=registration["email"],
            ticket_code=registration["code"],
            program_id=program["id"],
            base_url=mail.base_url,
        )
        app = create_app(mail, run_scheduler=True)
        async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
            health = (await client.get("/api/v1/health")).json()
            assert health["scheduler"] == "running"
            for _ in range(200):  # a bounded wait for the tick, not a timing assertion
                if smtp.messages:
                    break
                await asyncio.sleep(0.05)
            assert smtp.kinds() == {"confirmation": 1}
        assert app.state.scheduler is None  # shut down with the app
