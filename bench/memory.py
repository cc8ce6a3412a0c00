"""Memory: one uvicorn worker serving the demo under page load stays under 200 MB resident.

Resident memory is read from /proc/<pid>/status: VmRSS after start-up (before any request),
VmRSS after the load, and VmHWM (the peak resident size over the process's life).

    .venv/bin/python -m bench.memory [--backends sqlite,postgres] [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import machine_summary, servers, update_results
from bench.loadgen import Request, RunResult, run_async, run_load
from bench.pages import BROWSER_HEADERS, discover, shape, visitor_headers

SECTION = "Memory"
TARGET_KB = 200 * 1024  # 200 MB (MiB, as the kernel counts kB of 1,024 bytes)
SAMPLE_EVERY_S = 0.5


@dataclass
class MemoryResult:
    backend: str
    seeded: str
    paths: int
    start_kb: int
    after_kb: int
    peak_kb: int
    sampled_max_kb: int
    run: RunResult
    notes: list[str] = field(default_factory=list)


def page_mix(base_url: str, database_url: str) -> tuple[list[str], list[str]]:
    """Every public page the demo has: home, catalogue views, each program page, the ticket
    page with its QR and calendar; only those that answer 200 (the others are noted)."""
    site = discover(base_url, database_url)
    notes = list(site.notes)
    paths = [page.path for page in site.pages]
    paths += [
        "/?lang=en",
        "/programs?kind=workshop",
        "/programs?kind=sport",
        "/programs?kind=tour",
        "/programs?page=2",
        "/programs?q=program&free=1",
    ]
    paths += [f"/programs/{slug}" for slug in site.program_slugs]
    paths += [
        f"{page.path}/{asset}"
        for page in site.pages
        if page.name == "ticket"
        for asset in ("qr.svg", "event.ics")
    ]
    answering = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for path in dict.fromkeys(paths):
            status = client.get(path, headers=BROWSER_HEADERS).status_code
            if status == 200:
                answering.append(path)
            else:
                notes.append(f"{shape(path)} answers {status}: left out")
    return answering, sorted(set(notes))


async def _sampled_load(
    url: str, pid: int, paths: list[str], headers: dict[str, str], clients: int, requests: int
) -> tuple[RunResult, int]:
    """The load, with VmRSS sampled alongside (VmHWM gives the peak; this shows it was
    reached under load, not at start-up)."""
    highest = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal highest
        while not done.is_set():
            highest = max(highest, servers.proc_status(pid).get("VmRSS", 0))
            try:
                await asyncio.wait_for(done.wait(), SAMPLE_EVERY_S)
            except TimeoutError:
                pass

    sampler = asyncio.create_task(sample())
    cycle = itertools.cycle(paths)
    requests_cycle = [Request("GET", next(cycle), headers) for _ in range(len(paths))]
    try:
        result = await run_load(
            url,
            lambda i: requests_cycle[i % len(requests_cycle)],
            clients=clients,
            requests=requests,
            time_cap=300,
            label="memory",
        )
    finally:
        done.set()
        await sampler
    return result, highest


def run_backend(backend: str, workdir: Path, args: argparse.Namespace) -> MemoryResult:
    with servers.fresh_database(backend, workdir) as url:
        seeded = servers.run_with_database(url, servers.seed_demo)
        with servers.serve_product(url, workdir, workers=1) as product:
            time.sleep(1)  # let start-up settle before the first reading
            start_kb = servers.proc_status(product.pid)["VmRSS"]
            paths, notes = page_mix(product.url, url)
            headers = visitor_headers(product.url)
            result, sampled = run_async(
                _sampled_load(product.url, product.pid, paths, headers, args.clients, args.requests)
            )
            status = servers.proc_status(product.pid)
    print(f"{backend}: {result.summary()}")
    return MemoryResult(
        backend,
        seeded,
        len(paths),
        start_kb,
        status["VmRSS"],
        status["VmHWM"],
        sampled,
        result,
        notes,
    )


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def render(results: list[MemoryResult], args: argparse.Namespace, skipped: list[str]) -> str:
    out = [
        f"Measured {machine_summary()}. One uvicorn worker (`--workers 1`: the server process "
        f"is the worker), {args.clients} clients, {args.requests} requests cycling through "
        "every public page that answers (home, catalogue views, each program page, a ticket "
        "page, its QR and calendar). MB = 1,024 kB as /proc reports them.",
        "",
        "| database | data | paths | RSS after start-up | highest RSS sampled under load | "
        "RSS after load | peak (VmHWM) | target < 200 MB | requests | non-200 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        bad = sum(n for s, n in r.run.statuses.items() if s != 200) + r.run.errors
        verdict = "✅" if r.peak_kb < TARGET_KB else "❌"
        out.append(
            f"| {r.backend} | {r.seeded} | {r.paths} | {_mb(r.start_kb)} MB | "
            f"{_mb(r.sampled_max_kb)} MB | {_mb(r.after_kb)} MB | "
            f"{_mb(r.peak_kb)} MB | {verdict} | "
            f"{r.run.requests} | {bad} |"
        )
    notes = sorted({n for r in results for n in r.notes} | set(skipped))
    if notes:
        out += ["", *[f"- {note}" for note in notes]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="yh-bench-memory-") as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend == "postgres" and not servers.postgres_available():
                skipped.append(f"PostgreSQL skipped: {servers.POSTGRES_ADMIN_URL} does not answer")
                continue
            results.append(run_backend(backend, Path(tmp), args))
    text = render(results, args, skipped)
    print(text)
    if not args.no_write:
        update_results(SECTION, text)
    if any(r.run.server_errors or r.run.errors for r in results):
        print("server errors or failed requests during the run", flush=True)


if __name__ == "__main__":
    main()
