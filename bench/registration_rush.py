"""Registration rush: many clients at once for the last seats, the product's registration API
against the floor's one INSERT, on SQLite and PostgreSQL.

Each round: 1,000 attempts by 32 closed-loop clients for a program of 200 seats and a waiting
list of 300 (so 200 confirmed, 300 waitlisted and 500 refused "full" when all goes right),
every attempt a different person. Floor and product run interleaved (floor, product, ...),
the same uvicorn command line and worker count, rate limits off. Counts that must hold in
every product round: exactly 200 confirmed (in the answers and in the database), zero 5xx.

    .venv/bin/python -m bench.registration_rush [--backends sqlite,postgres] [--requests 1000]
        [--clients 32] [--rounds 3] [--seats 200] [--waitlist 300] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fmt_ms, fmt_ratio, machine_summary, servers, update_results
from bench.loadgen import Comparison, Reply, Request, interleaved, run_async, run_load

SECTION = "Registration rush"
THROUGHPUT_TARGET = 0.4


@dataclass
class RoundCounts:
    """What one product round's answers and database say."""

    answers: Counter[str] = field(default_factory=Counter)  # confirmed / waitlisted / codes
    confirmed_in_db: int = -1
    seats_taken: int = -1
    waitlisted_in_db: int = -1


@dataclass
class BackendResult:
    backend: str
    comparison: Comparison
    rounds: list[RoundCounts]
    floor_inserted: int
    notes: list[str] = field(default_factory=list)

    @property
    def confirmed_exact(self) -> bool:
        return all(
            r.answers["confirmed"] == r.confirmed_in_db == r.seats_taken for r in self.rounds
        )

    @property
    def server_errors(self) -> int:
        return sum(run.server_errors for run in (*self.comparison.product, *self.comparison.floor))


# --------------------------------------------------------------------------- people


def _phone(side: int, round_no: int, i: int) -> str:
    # 08 + side + round + 8 digits: 11 national digits starting with 8, distinct everywhere.
    return f"08{side}{round_no}{i:08d}"


def product_body(round_no: int, i: int) -> dict[str, Any]:
    return {
        "full_name": f"Peserta Rush {round_no}-{i}",
        "email": f"p{round_no}-{i}@rush.bench.test",
        "phone": _phone(1, round_no, i),
        "birth_date": "2004-06-15",
        "gender": "female" if i % 2 else "male",
        "kecamatan": "Purbalingga",
        "school": "SMA Negeri 1 Purbalingga",
    }


def floor_body(program_id: int, round_no: int, i: int) -> dict[str, Any]:
    return {
        "program_id": program_id,
        "full_name": f"Peserta Rush {round_no}-{i}",
        "email": f"f{round_no}-{i}@rush.bench.test",
        "phone": "+62" + _phone(2, round_no, i)[1:],
        "birth_date": "2004-06-15",
        "kecamatan": "Purbalingga",
    }


# --------------------------------------------------------------------------- database


async def seed_rush_programs(rounds: int, seats: int, waitlist: int) -> list[dict[str, Any]]:
    """One program per product round (fresh seats each time) and one for the floor."""
    from youth_hub.catalog.tables import Program

    programs = await servers.seed_programs(rounds + 1, capacity=seats, prefix="rush")
    ids = [p["id"] for p in programs]
    await Program.update({Program.waitlist_limit: waitlist}).where(Program.id.is_in(ids)).run()
    return programs


async def round_counts(program_id: int) -> tuple[int, int, int]:
    from youth_hub.catalog.tables import Program
    from youth_hub.registration.tables import Registration

    confirmed = (
        await Registration.count()
        .where((Registration.program == program_id) & (Registration.status == "confirmed"))
        .run()
    )
    waitlisted = (
        await Registration.count()
        .where((Registration.program == program_id) & (Registration.status == "waitlisted"))
        .run()
    )
    row = await Program.select(Program.seats_taken).where(Program.id == program_id).first().run()
    return confirmed, waitlisted, row["seats_taken"]


async def floor_rows(program_id: int) -> int:
    from youth_hub.registration.tables import Registration

    count: int = await Registration.count().where(Registration.program == program_id).run()
    return count


# --------------------------------------------------------------------------- one backend


def run_backend(backend: str, workdir: Path, args: argparse.Namespace) -> BackendResult:
    print(f"== {backend}", flush=True)
    with servers.fresh_database(backend, workdir) as url:
        programs = servers.run_with_database(
            url, seed_rush_programs, args.rounds, args.seats, args.waitlist
        )
        product_programs, floor_program = programs[:-1], programs[-1]
        rounds: list[RoundCounts] = []
        with (
            servers.serve_floor(url, workdir, workers=args.workers) as floor,
            servers.serve_product(url, workdir, workers=args.workers) as product,
        ):
            floor_round = iter(range(args.rounds))
            product_round = iter(range(args.rounds))

            async def floor_run() -> Any:
                round_no = next(floor_round)
                return await run_load(
                    floor.url,
                    lambda i: Request.json(
                        "POST", "/floor/register", floor_body(floor_program["id"], round_no, i)
                    ),
                    clients=args.clients,
                    requests=args.requests,
                    client=args.client,
                    label=f"floor r{round_no + 1}",
                    server_pids=servers.worker_pids(floor),
                )

            async def product_run() -> Any:
                round_no = next(product_round)
                program = product_programs[round_no]
                counts = RoundCounts()
                rounds.append(counts)
                path = f"/api/v1/programs/{program['slug']}/registrations"

                def check(_i: int, _request: Request, reply: Reply) -> None:
                    if reply.status == 201:
                        counts.answers[reply.json()["status"]] += 1
                    elif 400 <= reply.status < 500:
                        counts.answers[str(reply.json().get("code", reply.status))] += 1

                return await run_load(
                    product.url,
                    lambda i: Request.json("POST", path, product_body(round_no, i)),
                    clients=args.clients,
                    requests=args.requests,
                    client=args.client,
                    label=f"product r{round_no + 1}",
                    check=check,
                    server_pids=servers.worker_pids(product),
                )

            comparison = run_async(
                interleaved(
                    floor_run,
                    product_run,
                    rounds=args.rounds,
                    progress=lambda line: print("  " + line, flush=True),
                )
            )
        for counts, program in zip(rounds, product_programs, strict=True):
            confirmed, waitlisted, seats_taken = servers.run_with_database(
                url, round_counts, program["id"]
            )
            counts.confirmed_in_db, counts.waitlisted_in_db = confirmed, waitlisted
            counts.seats_taken = seats_taken
        inserted = servers.run_with_database(url, floor_rows, floor_program["id"])
    return BackendResult(backend, comparison, rounds, inserted)


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(results: list[BackendResult], args: argparse.Namespace, skipped: list[str]) -> str:
    lines = [
        machine_summary(),
        "",
        f"{args.requests} attempts per run by {args.clients} closed-loop clients "
        f"({args.client} client), a program of {args.seats} seats and a waiting list of "
        f"{args.waitlist}, every attempt a different person; {args.rounds} interleaved rounds "
        f"(floor, product, ...), {args.workers} uvicorn worker(s), rate limits off. "
        "Floor: `POST /floor/register`, one INSERT. Product: `POST "
        "/api/v1/programs/{slug}/registrations` (validation, eligibility, conditional seat "
        "UPDATE, waiting-list number, INSERT, outbox message, one write transaction). "
        f"Target: throughput ≥ {THROUGHPUT_TARGET}× the floor, exactly {args.seats} confirmed, "
        "0 server errors.",
        "",
        "| database | product req/s | floor req/s | ratio | median ms (product / floor) "
        "| p99 ms (product / floor) | CPU ms/req (product / floor) | confirmed per round "
        "| waitlisted per round | refused per round | 5xx | target met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        c = result.comparison
        confirmed = ", ".join(
            f"{r.answers['confirmed']} (db {r.confirmed_in_db}, seats_taken {r.seats_taken})"
            for r in result.rounds
        )
        waitlisted = ", ".join(str(r.answers["waitlisted"]) for r in result.rounds)
        refused = ", ".join(
            " ".join(
                f"{k}×{v}"
                for k, v in sorted(r.answers.items())
                if k not in {"confirmed", "waitlisted"}
            )
            or "0"
            for r in result.rounds
        )
        met = (
            c.throughput_ratio >= THROUGHPUT_TARGET
            and result.confirmed_exact
            and all(r.answers["confirmed"] == args.seats for r in result.rounds)
            and result.server_errors == 0
            and c.product_errors == 0
        )
        cpu = (
            f"{fmt_ms(c.product_cpu_ms)} / {fmt_ms(c.floor_cpu_ms)}"
            if not math.isnan(c.product_cpu_ms)
            else "-"
        )
        lines.append(
            f"| {result.backend} | {c.product_throughput:.0f} | {c.floor_throughput:.0f} "
            f"| {fmt_ratio(c.throughput_ratio)} "
            f"| {fmt_ms(c.product_median_ms)} / {fmt_ms(c.floor_median_ms)} "
            f"| {fmt_ms(c.product_p99_ms)} / {fmt_ms(c.floor_p99_ms)} | {cpu} "
            f"| {confirmed} | {waitlisted} | {refused} | {result.server_errors} "
            f"| {_verdict(met)} |"
        )
    lines.append("")
    for result in results:
        c = result.comparison
        lines.append(
            f"- {result.backend}: floor inserted {result.floor_inserted} rows "
            f"({args.rounds}×{args.requests} expected); transport errors product "
            f"{sum(r.errors for r in c.product)}, floor {sum(r.errors for r in c.floor)}; "
            f"CPU ratio (floor ÷ product CPU per request) {fmt_ratio(c.cpu_ratio)}."
        )
        for run in (*c.floor, *c.product):
            lines.append(f"  - {run.summary()}")
        lines.extend(f"  - {note}" for note in result.notes)
    lines.extend(f"- {note}" for note in skipped)
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.registration_rush", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seats", type=int, default=200)
    parser.add_argument("--waitlist", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load-generator client (raw costs the shared CPU less)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run, print and record; 1 when a count failed (oversold, undersold, 5xx), else 0."""
    args = parse_args(argv)
    for name in ("httpx", "piccolo"):
        logging.getLogger(name).setLevel(logging.WARNING)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="yh-bench-rush-") as tmp:
        for backend in backends:
            if backend == "postgres" and not servers.postgres_available():
                skipped.append(f"PostgreSQL skipped: {servers.POSTGRES_ADMIN_URL} does not answer")
                continue
            results.append(run_backend(backend, Path(tmp), args))
    text = render(results, args, skipped)
    print(text)
    if not args.no_write:
        update_results(SECTION, text)
    if any(not r.confirmed_exact or r.server_errors for r in results):
        print("oversold, undersold or server errors during the rush", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
