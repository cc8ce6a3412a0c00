"""Start and stop the product and the floor under uvicorn on free loopback ports, on a fresh
SQLite file or a fresh PostgreSQL database, and seed them.

    with fresh_database("sqlite", workdir) as url:
        run_with_database(url, seed_programs, 24)
        with serve_product(url, workdir) as product, serve_floor(url, workdir) as floor:
            ...  # product.url, floor.url, product.pid
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from youth_hub import db

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "YOUTH_HUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PRODUCT_TARGET = "youth_hub.asgi:app_factory"
FLOOR_TARGET = "bench.floor:floor_factory"
PRODUCT_HEALTH = "/api/v1/health"
FLOOR_HEALTH = "/floor/health"
BACKENDS = ("sqlite", "postgres")

_db_seq = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- databases


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def postgres_available(admin_url: str = POSTGRES_ADMIN_URL) -> bool:
    try:
        asyncio.run(_admin(admin_url, "SELECT 1"))
    except Exception:
        return False
    return True


async def migrate(url: str) -> None:
    """The product's schema, exactly as `youth-hub migrate` makes it."""
    engine = db.make_engine(url)
    await db.start(engine)
    try:
        await db.migrate(engine, url)
    finally:
        await db.stop(engine)


@contextmanager
def fresh_database(
    backend: str, workdir: Path, admin_url: str = POSTGRES_ADMIN_URL
) -> Iterator[str]:
    """A new, migrated database for one benchmark; dropped (PostgreSQL) afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{os.getpid()}-{next(_db_seq)}.sqlite3"
        url = f"sqlite:///{path}"
        asyncio.run(migrate(url))
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm", ".migrate.lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}; use sqlite or postgres")
    name = f"yh_bench_{os.getpid()}_{next(_db_seq)}"
    asyncio.run(
        _admin(
            admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
    )
    url = _with_database(admin_url, name)
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_with_database(
    url: str, func: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
) -> Any:
    """Run an async function in this process with every table bound to `url`."""

    async def call() -> Any:
        engine = db.make_engine(url)
        db.use_engine(engine)
        await db.start(engine)
        try:
            return await func(*args, **kwargs)
        finally:
            await db.stop(engine)

    return asyncio.run(call())


# ---------------------------------------------------------------- seeding

KINDS = ("workshop", "sport", "tour")
KECAMATAN = ("Purbalingga", "Bobotsari", "Bukateja", "Kutasari", "Karangreja", "Rembang")
TOPICS = ("leadership", "digital", "football", "badminton", "heritage", "nature")


async def seed_programs(
    count: int, *, capacity: int = 200, sessions: int = 1, prefix: str = "bench"
) -> list[dict[str, Any]]:
    """`count` published programs of the three kinds, each with sessions and a topic, inserted
    in batches straight through the catalog tables (fast enough for thousands)."""
    from youth_hub.catalog.tables import Program, ProgramSession, ProgramTopic

    now = datetime.now(UTC).replace(microsecond=0)
    created: list[dict[str, Any]] = []
    for start in range(0, count, 200):
        batch = []
        for n in range(start, min(count, start + 200)):
            begins = now + timedelta(days=3 + n % 60, hours=n % 8)
            kind = KINDS[n % 3]
            batch.append(
                Program(
                    slug=f"{prefix}-{kind}-{n + 1}",
                    kind=kind,
                    title=f"Program {kind} {n + 1}",
                    summary=f"Ringkasan program {n + 1} untuk pemuda Purbalingga",
                    description=f"Deskripsi program {n + 1}. " * 8,
                    venue="Pendopo Dipokusumo",
                    kecamatan=KECAMATAN[n % len(KECAMATAN)],
                    capacity=capacity,
                    price_idr=0 if n % 2 else 25_000,
                    age_min=13,
                    age_max=30,
                    status="published",
                    first_starts_at=begins,
                    last_ends_at=begins + timedelta(days=7 * (sessions - 1), hours=3),
                    published_at=now,
                )
            )
        rows = await Program.insert(*batch).returning(Program.id, Program.slug).run()
        children_s = []
        children_t = []
        for row, program in zip(rows, batch, strict=True):
            assert program.first_starts_at is not None
            for i in range(sessions):
                begins = program.first_starts_at + timedelta(days=7 * i)
                children_s.append(
                    ProgramSession(
                        program=row["id"],
                        position=i,
                        title=f"Sesi {i + 1}",
                        starts_at=begins,
                        ends_at=begins + timedelta(hours=3),
                        location="Aula",
                        day=(i + 1) if program.kind == "tour" else None,
                        checkin=True,
                    )
                )
            children_t.append(ProgramTopic(program=row["id"], topic=TOPICS[row["id"] % 6]))
            created.append({"id": row["id"], "slug": row["slug"], "kind": program.kind})
        await ProgramSession.insert(*children_s).run()
        await ProgramTopic.insert(*children_t).run()
    return created


def demo_available() -> bool:
    try:
        from youth_hub.catalog import demo  # noqa: F401
    except ImportError:
        return False
    return True


async def seed_demo() -> str:
    """The product's demo data when the catalog provides it, else 24 programs of our own.
    Returns which one, for the report."""
    if demo_available():
        from youth_hub.catalog.demo import load_demo

        await load_demo()
        return "demo (youth_hub.catalog.demo.load_demo)"
    await seed_programs(24)
    return "24 bench programs (youth_hub.catalog.demo not available yet)"


async def seed_floor_tickets(codes: Iterable[str]) -> int:
    """Rows for the floor's check-in (bench_floor_ticket), one per ticket code."""
    from bench.floor import ensure_floor_tables, floor_ticket_insert

    engine = db.current_engine()
    await ensure_floor_tables(engine)
    codes = list(codes)
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        await engine.run_ddl(floor_ticket_insert(engine, chunk))
    return len(codes)


def ticket_codes(count: int) -> list[str]:
    return [secrets.token_urlsafe(16) for _ in range(count)]


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


def product_env(database_url: str, data_dir: Path, base_url: str) -> dict[str, str]:
    """As tests/support/live.py: rate limits and the scheduler off, nothing else changed."""
    return {
        "YOUTH_HUB_DATABASE_URL": database_url,
        "YOUTH_HUB_DATA_DIR": str(data_dir),
        "YOUTH_HUB_SECRET_KEY": "bench-secret-" + secrets.token_hex(8),
        "YOUTH_HUB_RATE_LIMITS": "off",
        "YOUTH_HUB_SCHEDULER": "off",
        "YOUTH_HUB_BASE_URL": base_url,
    }


def uvicorn_command(target: str, port: int, workers: int) -> list[str]:
    """The one command line both the product and the floor are served with."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        # No access log for either: a log line per request would be measured, not the app.
        "--log-level",
        "warning",
        "--no-access-log",
    ]


@contextmanager
def serve(
    name: str,
    target: str,
    env: Mapping[str, str],
    data_dir: Path,
    *,
    port: int,
    workers: int = 1,
    health: str = PRODUCT_HEALTH,
    startup_timeout: float = 60.0,
) -> Iterator[Server]:
    data_dir.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("YOUTH_HUB_")}
    base_env.update(env)
    base_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
    )
    log_path = data_dir / f"{name}-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            uvicorn_command(target, port, workers),
            cwd=ROOT,
            env=base_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = Server(name=name, url=url, process=process, log_path=log_path, workers=workers)
        try:
            _wait_healthy(server, health, startup_timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serve_product(database_url: str, workdir: Path, *, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    data_dir = workdir / "product-data"
    env = product_env(database_url, data_dir, f"http://127.0.0.1:{port}")
    with serve(
        "product", PRODUCT_TARGET, env, data_dir, port=port, workers=workers, health=PRODUCT_HEALTH
    ) as server:
        yield server


@contextmanager
def serve_floor(database_url: str, workdir: Path, *, workers: int = 1) -> Iterator[Server]:
    from bench.floor import ensure_floor_tables

    run_with_database(database_url, lambda: ensure_floor_tables(db.current_engine()))
    port = free_port()
    env = {"YOUTH_HUB_DATABASE_URL": database_url}
    with serve(
        "floor",
        FLOOR_TARGET,
        env,
        workdir / "floor-data",
        port=port,
        workers=workers,
        health=FLOOR_HEALTH,
    ) as server:
        yield server


def _wait_healthy(server: Server, health: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + health, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not become healthy:\n{server.log_tail()}")


# ---------------------------------------------------------------- process figures


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak resident) and friends from /proc/<pid>/status, in kB."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key.startswith("Vm") and rest.strip().endswith("kB"):
            figures[key] = int(rest.split()[0])
    return figures


def worker_pids(server: Server) -> list[int]:
    """The processes that serve requests: uvicorn itself with one worker (it runs the app in
    its own process), else its children (the workers, maybe plus an idle helper)."""
    if server.workers == 1:
        return [server.pid]
    children_file = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(p) for p in children_file.read_text().split()]
