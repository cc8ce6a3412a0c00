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
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import machine_summary, servers, update_results
from bench.loadgen import Comparison, Reply, Request, RunResult, interleaved, run_async, run_load

DUP = 4  # consecutive scans of one ticket: they meet in flight
WARMUP = 100  # a multiple of DUP, so no ticket straddles warm-up and measurement
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

    async def product_run() -> RunResult:
        first = cursor["product"]
        cursor["product"] += per_run
        return await run_load(
            product_url,
            product_request,
            clients=clients,
            requests=requests,
            warmup=WARMUP,
            first_index=first,
            client=client,
            label=f"product {clients}c",
            check=product_oks.check,
        )

    async def floor_run() -> RunResult:
        first = cursor["floor"]
        cursor["floor"] += per_run
        return await run_load(
            floor_url,
            floor_request,
            clients=clients,
            requests=requests,
            warmup=WARMUP,
            first_index=first,
            client=client,
            label=f"floor {clients}c",
            check=floor_oks.check,
        )

    comparison = run_async(interleaved(floor_run, product_run, rounds=rounds, progress=print))
    return Level(clients, comparison, product_oks, floor_oks)


def run_backend(
    backend: str, *, requests: int, rounds: int, levels: list[int], client: str
) -> tuple[list[Level], tuple[int, int], int]:
    runs_per_side = rounds * len(levels)
    tickets = runs_per_side * (WARMUP + requests) // DUP + DUP
    with tempfile.TemporaryDirectory(prefix="yh-bench-checkin-") as tmp:
        workdir = Path(tmp)
        with servers.fresh_database(backend, workdir) as url:
            # serve_product gives the product this data dir: sign with the keys it will use.
            scene = servers.run_with_database(url, seed_scene, tickets, workdir / "product-data")
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
            rows = servers.run_with_database(url, count_rows)
    return results, rows, cursor["product"] // DUP


def _table(backend: str, levels: list[Level]) -> list[str]:
    lines = []
    for level in levels:
        c = level.comparison
        lines.append(
            f"| {backend} | {level.clients} | {c.floor_throughput:.0f} | "
            f"{c.product_throughput:.0f} | **{c.throughput_ratio:.2f}** | "
            f"{c.floor_median_ms:.1f} / {c.product_median_ms:.1f} | "
            f"{c.floor_p99_ms:.1f} / {c.product_p99_ms:.1f} | **{c.p99_ratio:.2f}** | "
            f"{level.floor_oks.duplicate_oks} / **{level.product_oks.duplicate_oks}** | "
            f"{c.floor_errors} / {c.product_errors} |"
        )
    return lines


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
        help="load generator client (raw costs the shared CPU least)",
    )
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    lines = [
        machine_summary(),
        "",
        f"POST /api/v1/checkin (Bearer token, signature check, roles, window, unique "
        f"check-in row, scan log) vs the floor's POST /floor/checkin (one conditional UPDATE). "
        f"One uvicorn worker each, interleaved floor/product × {args.rounds} rounds, "
        f"{args.requests} measured requests per run after {WARMUP} warm-up, closed loop "
        f"({args.client} asyncio clients); each ticket scanned {DUP}× by consecutive requests, "
        f"so its scans are in flight together. Figures: medians over rounds.",
        "",
        "| database | clients | floor req/s | product req/s | throughput ratio (≥ 0.5) | "
        "median ms floor / product | p99 ms floor / product | p99 ratio (≤ 2) | "
        "duplicate oks floor / product (0) | errors + 5xx floor / product |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "postgres" and not servers.postgres_available():
            notes.append("PostgreSQL did not answer: its half was skipped.")
            continue
        levels_result, (product_rows, floor_rows), product_tickets = run_backend(
            backend,
            requests=args.requests,
            rounds=args.rounds,
            levels=levels,
            client=args.client,
        )
        lines.extend(_table(backend, levels_result))
        expected = sum(len(level.product_oks.tickets) for level in levels_result)
        oks = sum(len(level.product_oks.oks) for level in levels_result)
        refusals: Counter[str] = sum((lv.product_oks.bad for lv in levels_result), Counter())
        notes.append(
            f"{backend}: database after the runs: {product_rows} check-in rows for "
            f"{product_tickets} product tickets scanned (warm-up included), "
            f"{floor_rows} floor tickets marked; measured tickets with an `ok`: {oks} of "
            f"{expected}; other answers: {dict(refusals) or 'none'}."
        )
    body = "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes)
    print(body)
    update_results(TITLE, body)


if __name__ == "__main__":
    main()
