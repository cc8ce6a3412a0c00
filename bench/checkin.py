"""Check-in API vs the floor: POST /api/v1/checkin against the floor's one conditional UPDATE
(POST /floor/checkin), same database, same uvicorn command and worker count, interleaved.

Each ticket is scanned DUP times by consecutive requests, so with 8 or 32 closed-loop clients
the scans of one ticket are in flight together: besides speed, the run counts `ok` answers
beyond the first for one ticket (must be 0) on both sides, and checks the database agrees.

    .venv/bin/python -m bench.checkin [--backends sqlite,postgres] [--requests 1500]
                                      [--rounds 3] [--clients 8,32] [--client raw]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import machine_summary, servers, update_results
from bench.loadgen import Comparison, Reply, Request, RunResult, interleaved, run_async, run_load

DUP = 4  # consecutive scans of one ticket: they meet in flight
WARMUP = 100  # a multiple of DUP, so no ticket straddles warm-up and measurement
BREAKDOWN_REQUESTS = 1040  # sequential, in-process: where one request's CPU goes
TITLE = "Check-in"


@dataclass
class Scene:
    slug: str
    token: str
    payloads: list[str]  # product tickets (signed QR texts), by index
    codes: list[str]  # floor tickets, by index


@dataclass
class OkCounter:
    """`ok` answers per ticket index, to find any ticket admitted twice."""

    oks: Counter[int] = field(default_factory=Counter)
    tickets: set[int] = field(default_factory=set)
    bad: Counter[str] = field(default_factory=Counter)

    def check(self, index: int, _request: Request, reply: Reply) -> None:
        ticket = index // DUP
        self.tickets.add(ticket)
        if reply.status != 200:
            self.bad[f"status {reply.status}"] += 1
            return
        result = reply.json().get("result")
        if result == "ok":
            self.oks[ticket] += 1
        elif result != "already_checked_in":
            self.bad[str(result)] += 1

    @property
    def duplicate_oks(self) -> int:
        return sum(n - 1 for n in self.oks.values() if n > 1)

    @property
    def tickets_without_ok(self) -> int:
        return len(self.tickets - set(self.oks))


async def seed_scene(tickets: int, data_dir: Path) -> Scene:
    """One program whose only session is open now, a scanner with an API token, `tickets`
    confirmed registrations with their signed QR texts, and as many floor tickets."""
    from youth_hub.accounts.passwords import hash_password, new_api_token
    from youth_hub.accounts.tables import ApiToken, StaffUser
    from youth_hub.catalog.tables import Program, ProgramSession
    from youth_hub.checkin.tables import ScannerAssignment
    from youth_hub.registration.tables import Registration
    from youth_hub.tickets import sign_ticket

    now = datetime.now(UTC).replace(microsecond=0)
    program = Program(
        slug="bench-checkin",
        kind="workshop",
        title="Bench check-in",
        status="published",
        capacity=tickets,
        seats_taken=tickets,
        first_starts_at=now - timedelta(minutes=30),
        last_ends_at=now + timedelta(hours=6),
        published_at=now,
    )
    await program.save().run()
    await (
        ProgramSession(
            program=program.id,
            title="Sesi 1",
            starts_at=now - timedelta(minutes=30),
            ends_at=now + timedelta(hours=6),
            location="Aula",
            checkin=True,
        )
        .save()
        .run()
    )
    scanner = StaffUser(
        email="bench-scanner@example.test",
        name="Bench",
        role="scanner",
        password_hash=hash_password(secrets.token_urlsafe(12)),
    )
    await scanner.save().run()
    token, digest = new_api_token()
    await ApiToken(user=scanner.id, token_hash=digest, label="bench").save().run()
    await ScannerAssignment(program=program.id, user=scanner.id).save().run()
    ids: list[int] = []
    for start in range(0, tickets, 500):
        rows = [
            Registration(
                code=secrets.token_urlsafe(16),
                program=program.id,
                status="confirmed",
                full_name=f"Peserta Bench {n}",
                first_name="Peserta",
                email=f"bench{n}@example.test",
                phone=f"+62812{n:07d}",
                birth_date=datetime(2005, 1, 1).date(),
                kecamatan="Purbalingga",
            )
            for n in range(start, min(tickets, start + 500))
        ]
        inserted = await Registration.insert(*rows).returning(Registration.id).run()
        ids.extend(row["id"] for row in inserted)
    payloads = [sign_ticket(data_dir, ticket_id, program.id) for ticket_id in ids]
    codes = servers.ticket_codes(tickets)
    await servers.seed_floor_tickets(codes)
    return Scene(slug=program.slug, token=token, payloads=payloads, codes=codes)


async def count_rows() -> tuple[int, int]:
    """(product check-ins, floor tickets checked in)."""
    from youth_hub import db
    from youth_hub.checkin.tables import CheckIn

    floor = await db.current_engine().run_ddl(
        "SELECT COUNT(*) AS n FROM bench_floor_ticket WHERE checked_in_at IS NOT NULL"
    )
    return int(await CheckIn.count().run()), int(floor[0]["n"])


async def _asgi_call(app: Any, method: str, path: str, body: bytes, headers: list[Any]) -> int:
    """One request straight into the ASGI app (no HTTP client, whose cost would blur the
    ratio); returns the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        return {}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def cpu_breakdown(url: str, scene: Scene, data_dir: Path, first: int) -> dict[str, float]:
    """Server CPU milliseconds per request, sequential and in-process (straight ASGI calls):
    the floor, then the product's layers one on top of another. Tickets from index `first`
    on are still unused; each is scanned DUP times, as in the load runs."""
    import json

    from bench.floor import create_floor_app
    from youth_hub.app import create_app
    from youth_hub.settings import Settings

    settings = Settings(
        database_url=url, data_dir=data_dir, secret_key=secrets.token_hex(16), rate_limits=None
    )
    auth = [(b"authorization", f"Bearer {scene.token}".encode())]

    async def per_request(app: Any, send: Any) -> float:
        async with app.lifespan():
            for i in range(40):
                await send(app, i)
            started = time.process_time()
            for i in range(40, BREAKDOWN_REQUESTS):
                await send(app, i)
            return (time.process_time() - started) * 1000 / (BREAKDOWN_REQUESTS - 40)

    async def floor(app: Any, i: int) -> None:
        body = json.dumps({"code": scene.codes[first + i // DUP]}).encode()
        assert await _asgi_call(app, "POST", "/floor/checkin", body, []) == 200

    async def me(app: Any, _i: int) -> None:
        assert await _asgi_call(app, "GET", "/api/v1/me", b"", auth) == 200

    async def checkin(app: Any, i: int) -> None:
        body = json.dumps({"payload": scene.payloads[first + i // DUP], "program": scene.slug})
        assert await _asgi_call(app, "POST", "/api/v1/checkin", body.encode(), auth) == 200

    def product() -> Any:
        return create_app(settings, run_scheduler=False)

    return {
        "floor: POST /floor/checkin": await per_request(create_floor_app(url), floor),
        "product: GET /api/v1/me (framework, middleware, Bearer identity: one read)": (
            await per_request(product(), me)
        ),
        "product: POST /api/v1/checkin (+ the check-in)": await per_request(product(), checkin),
    }


@dataclass
class Level:
    clients: int
    comparison: Comparison
    product_oks: OkCounter
    floor_oks: OkCounter


def _measure(
    scene: Scene,
    floor_url: str,
    product_url: str,
    *,
    clients: int,
    requests: int,
    rounds: int,
    client: str,
    cursor: dict[str, int],
) -> Level:
    product_oks, floor_oks = OkCounter(), OkCounter()
    per_run = WARMUP + requests

    def product_request(index: int) -> Request:
        return Request.json(
            "POST",
            "/api/v1/checkin",
            {"payload": scene.payloads[index // DUP], "program": scene.slug},
            {"authorization": f"Bearer {scene.token}"},
        )

    def floor_request(index: int) -> Request:
        return Request.json("POST", "/floor/checkin", {"code": scene.codes[index // DUP]})

    def runner(
        side: str, url: str, make_request: Any, oks: OkCounter
    ) -> Callable[[], Awaitable[RunResult]]:
        """One side's run; each run takes the next unused tickets of that side."""

        async def run() -> RunResult:
            first = cursor[side]
            cursor[side] += per_run
            return await run_load(
                url,
                make_request,
                clients=clients,
                requests=requests,
                warmup=WARMUP,
                first_index=first,
                client=client,
                label=f"{side} {clients}c",
                check=oks.check,
            )

        return run

    product_run = runner("product", product_url, product_request, product_oks)
    floor_run = runner("floor", floor_url, floor_request, floor_oks)
    comparison = run_async(interleaved(floor_run, product_run, rounds=rounds, progress=print))
    return Level(clients, comparison, product_oks, floor_oks)


@dataclass
class BackendResult:
    backend: str
    levels: list[Level]
    product_rows: int
    floor_rows: int
    product_tickets: int
    cpu: dict[str, float]


def run_backend(
    backend: str, *, requests: int, rounds: int, levels: list[int], client: str
) -> BackendResult:
    runs_per_side = rounds * len(levels)
    loaded = runs_per_side * (WARMUP + requests) // DUP + DUP  # tickets the load runs use
    with tempfile.TemporaryDirectory(prefix="yh-bench-checkin-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "product-data"  # serve_product's: sign with the keys it uses
        with servers.fresh_database(backend, workdir) as url:
            scene = servers.run_with_database(
                url, seed_scene, loaded + BREAKDOWN_REQUESTS, data_dir
            )
            cursor = {"product": 0, "floor": 0}
            results = []
            with (
                servers.serve_floor(url, workdir) as floor,
                servers.serve_product(url, workdir) as product,
            ):
                for clients in levels:
                    print(f"--- {backend}, {clients} clients", flush=True)
                    results.append(
                        _measure(
                            scene,
                            floor.url,
                            product.url,
                            clients=clients,
                            requests=requests,
                            rounds=rounds,
                            client=client,
                            cursor=cursor,
                        )
                    )
            product_rows, floor_rows = servers.run_with_database(url, count_rows)
            print(f"--- {backend}, CPU per request, in-process", flush=True)
            cpu = asyncio.run(cpu_breakdown(url, scene, data_dir, loaded))
    return BackendResult(backend, results, product_rows, floor_rows, cursor["product"] // DUP, cpu)


def _table(result: BackendResult) -> list[str]:
    lines = []
    for level in result.levels:
        c = level.comparison
        lines.append(
            f"| {result.backend} | {level.clients} | {c.floor_throughput:.0f} | "
            f"{c.product_throughput:.0f} | **{c.throughput_ratio:.2f}** | "
            f"{c.floor_median_ms:.1f} / {c.product_median_ms:.1f} | "
            f"{c.floor_p99_ms:.1f} / {c.product_p99_ms:.1f} | **{c.p99_ratio:.2f}** | "
            f"{level.floor_oks.duplicate_oks} / **{level.product_oks.duplicate_oks}** | "
            f"{c.floor_errors} / {c.product_errors} |"
        )
    return lines


def _note(result: BackendResult) -> str:
    expected = sum(len(level.product_oks.tickets) for level in result.levels)
    oks = sum(len(level.product_oks.oks) for level in result.levels)
    others: Counter[str] = sum((lv.product_oks.bad for lv in result.levels), Counter())
    return (
        f"{result.backend}: in the database after the runs, {result.product_rows} check-in "
        f"rows for {result.product_tickets} product tickets scanned (warm-up included) and "
        f"{result.floor_rows} floor tickets marked; measured tickets with an `ok`: {oks} of "
        f"{expected}; answers other than ok/already_checked_in: {dict(others) or 'none'}."
    )


def _breakdown(results: list[BackendResult]) -> str:
    names = [r.backend for r in results]
    text = (
        f"Where one request's CPU goes: {BREAKDOWN_REQUESTS - 40} sequential requests "
        "in-process, straight ASGI calls (no HTTP client), after 40 warm-up; each ticket "
        f"scanned {DUP}× as in the load runs; the check-in line includes the one above it.\n\n"
        "| request | " + " | ".join(f"{n} CPU ms" for n in names) + " |\n"
        "| --- | " + " | ".join("---" for _ in names) + " |\n"
    )
    for label in results[0].cpu:
        text += f"| {label} | " + " | ".join(f"{r.cpu[label]:.2f}" for r in results) + " |\n"
    return text + "\n" + _reading([(r.backend, r.cpu) for r in results])


def _reading(cpus: list[tuple[str, dict[str, float]]]) -> str:
    """What the breakdown says about the ratio, from the figures themselves."""
    lines = []
    for backend, cpu in cpus:
        floor, me, checkin = cpu.values()
        lines.append(
            f"- {backend}: framework, middleware and the Bearer identity cost {me:.2f} ms, "
            f"{me / floor:.1f}× the floor's whole request; the check-in layer (signature "
            f"check, one read of program, assignment, nonce, registration, sessions and "
            f"check-ins, then one write: the scan-log row, or the check-in with its log row) "
            f"{checkin - me:.2f} ms. The whole check-in is {checkin / floor:.1f}× the floor's "
            f"CPU, so one worker's CPU allows about {floor / checkin:.2f}× its throughput."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checkin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=1500, help="measured requests per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="8,32")
    parser.add_argument(
        "--client",
        default="raw",
        choices=("raw", "httpx"),
        help="load generator client (raw costs the shared CPU least, see bench/README.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    lines = [
        machine_summary(),
        "",
        "POST /api/v1/checkin (Bearer token, signature check, roles, window, unique check-in "
        "row, scan log) vs the floor's POST /floor/checkin (one conditional UPDATE). One "
        f"uvicorn worker each, interleaved floor/product × {args.rounds} rounds, "
        f"{args.requests} measured requests per run after {WARMUP} warm-up, closed loop "
        f"({args.client} asyncio clients); each ticket scanned {DUP}× by consecutive requests, "
        "so its scans are in flight together. Figures: medians over rounds.",
        "",
        "| database | clients | floor req/s | product req/s | throughput ratio (≥ 0.5) | "
        "median ms floor / product | p99 ms floor / product | p99 ratio (≤ 2) | "
        "duplicate oks floor / product (0) | errors + 5xx floor / product |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    results: list[BackendResult] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not servers.postgres_available():
            notes.append("PostgreSQL did not answer: its half was skipped.")
            continue
        result = run_backend(
            backend, requests=args.requests, rounds=args.rounds, levels=levels, client=args.client
        )
        results.append(result)
        lines.extend(_table(result))
        notes.append(_note(result))
    body = "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes)
    if results:
        body += "\n\n" + _breakdown(results)
    print(body)
    if not args.no_write:
        update_results(TITLE, body)


if __name__ == "__main__":
    main()
