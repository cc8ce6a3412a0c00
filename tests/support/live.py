"""A real server in its own process (uvicorn), for browser, concurrency and kill tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOUTH_HUB_")}
    env.update(
        YOUTH_HUB_DATABASE_URL=database_url,
        YOUTH_HUB_DATA_DIR=str(data_dir),
        YOUTH_HUB_SECRET_KEY="live-test-secret",
        YOUTH_HUB_RATE_LIMITS="off",
        YOUTH_HUB_SCHEDULER_TICK="1",
    )
    env.update(extra)
    return env


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def live_server(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    scheduler: bool = False,
) -> Iterator[LiveServer]:
    port = free_port()
    extra = dict(env or {})
    if not scheduler:
        extra.setdefault("YOUTH_HUB_SCHEDULER", "off")
    base_url = f"http://127.0.0.1:{port}"
    extra.setdefault("YOUTH_HUB_BASE_URL", base_url)
    full_env = server_env(database_url, data_dir, **extra)
    log = (data_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "youth_hub.asgi:app_factory",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(base_url, process, data_dir / f"server-{port}.log")
        yield LiveServer(url=base_url, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/v1/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not start: {log_path.read_text(errors='replace')[-3000:]}")
