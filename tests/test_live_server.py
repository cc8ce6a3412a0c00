"""The app as deployed: uvicorn in its own process, with several workers."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.factories import make_program


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_live_server_answers_health(live: Any, seed: Any) -> None:
    seed(make_program, title="Live")
    body = _get_json(f"{live.url}/api/v1/health")
    assert body["database"] == "ok"
    assert body["scheduler"] == "off"
