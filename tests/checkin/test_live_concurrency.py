"""Two scanners on one ticket at the same instant, against the real server (two uvicorn
workers): exactly one `ok`, whatever the database."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.checkin.helpers import assign
from tests.factories import make_program, make_registration, make_staff, make_token
from tests.support.live import live_server
from youth_hub.checkin.tables import CheckIn, ScanLog
from youth_hub.settings import Settings
from youth_hub.tickets import sign_ticket

THREADS = 20


async def _scene() -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    program = await make_program(starts_at=starts)
    tokens = []
    for _ in range(4):
        scanner = await make_staff("scanner")
        await assign(program, scanner)
        tokens.append(await make_token(scanner))
    registration = await make_registration(program, full_name="Rina Kusuma")
    return {"program": program, "tokens": tokens, "registration": registration}


async def _counts() -> tuple[int, int]:
    return await CheckIn.count().run(), await ScanLog.count().run()


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"detail": exc.read().decode(errors="replace")}


def test_simultaneous_scans_over_http_give_one_ok(seed: Any, settings: Settings) -> None:
    scene = seed(_scene)
    payload = sign_ticket(settings.data_dir, scene["registration"]["id"], scene["program"]["id"])
    body = {"payload": payload, "program": scene["program"]["slug"]}
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()
    with live_server(settings.database_url, settings.data_dir, workers=2) as server:
        # Warm both workers (key ring, pools) so the scans below really meet at once.
        for token in scene["tokens"]:
            _post(f"{server.url}/api/v1/checkin", token, {"payload": "warm", "program": "x"})
        barrier = threading.Barrier(THREADS)

        def scan(i: int) -> None:
            barrier.wait()
            answer = _post(f"{server.url}/api/v1/checkin", scene["tokens"][i % 4], body)
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=scan, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    statuses = [status for status, _ in answers]
    results = [answer.get("result") for _, answer in answers]
    assert statuses == [200] * THREADS, answers
    assert results.count("ok") == 1, results
    assert results.count("already_checked_in") == THREADS - 1
    assert len({answer["checked_in_at"] for _, answer in answers}) == 1
    assert seed(_counts) == (1, THREADS)
