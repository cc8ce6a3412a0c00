"""A light closed-loop load generator: a fixed number of asyncio clients, each on its own
keep-alive HTTP/1.1 connection, sending the next request as soon as the previous answered,
until a bounded number of requests is done or a time cap is reached. Loopback only.

    result = await run_load(url, lambda i: Request("GET", "/programs"), clients=8, requests=2000)
    comparison = await interleaved(floor_run, product_run, rounds=3)

Two client implementations: "raw" (asyncio streams, a minimal HTTP/1.1 parser; the default,
because it costs the shared CPU far less per request, see `python -m bench.loadgen`) and
"httpx" (httpx.AsyncClient with a bounded pool), for cross-checking.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import math
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

CLIENT_KINDS = ("raw", "httpx")
T = TypeVar("T")
MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(
        cls, method: str, path: str, payload: Any, headers: Mapping[str, str] | None = None
    ) -> Request:
        return cls(
            method,
            path,
            {"content-type": "application/json", **(headers or {})},
            json.dumps(payload).encode(),
        )


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # as sent on the wire by the raw client (maybe gzip); decoded by httpx

    def content(self) -> bytes:
        if self.headers.get("content-encoding") == "gzip" and self.body[:2] == b"\x1f\x8b":
            return gzip.decompress(self.body)
        return self.body

    def json(self) -> Any:
        return json.loads(self.content())


RequestFactory = Callable[[int], Request]
ReplyCheck = Callable[[int, Request, Reply], None]


class Client(Protocol):
    async def send(self, request: Request) -> Reply: ...

    async def close(self) -> None: ...


class RawConnection:
    """One keep-alive HTTP/1.1 connection; reconnects after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.host_header = f"{host}:{port}"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: Request) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=MAX_HEADER_BYTES
            )
        assert self.reader is not None
        lines = [f"{request.method} {request.path} HTTP/1.1", f"host: {self.host_header}"]
        lines.extend(f"{name}: {value}" for name, value in request.headers.items())
        if request.body or request.method in {"POST", "PUT", "PATCH"}:
            lines.append(f"content-length: {len(request.body)}")
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
            await self.writer.drain()
            reply = await self._read_reply(request.method)
        except BaseException:
            await self.close()  # a half-read answer leaves the connection unusable
            raise
        if reply.headers.get("connection", "").lower() == "close":
            await self.close()
        return reply

    async def _read_reply(self, method: str) -> Reply:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked()
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:
            body = await self.reader.read()  # delimited by the server closing
            headers["connection"] = "close"
        return Reply(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers, ignored
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


class HttpxClient:
    """One client's view of a shared httpx.AsyncClient (pool bounded to the client count)."""

    def __init__(self, shared: Any) -> None:
        self.shared = shared

    async def send(self, request: Request) -> Reply:
        response = await self.shared.request(
            request.method,
            request.path,
            headers=dict(request.headers),
            content=request.body or None,
        )
        return Reply(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.content,
        )

    async def close(self) -> None:
        return None


@dataclass
class RunResult:
    label: str
    requests: int
    errors: int  # transport failures and timeouts: no HTTP answer at all
    duration_s: float
    latencies_ms: list[float]
    statuses: Counter[int]
    client_cpu_s: float
    clients: int
    error_samples: list[str] = field(default_factory=list)
    # CPU the server processes used during the measured phase (when their pids were given):
    # less sensitive than req/s to other work on a shared machine. The database server's own
    # CPU is not in it (PostgreSQL is another process; SQLite runs inside the worker).
    server_cpu_s: float = math.nan

    @property
    def throughput(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def server_cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.requests if self.requests else math.nan

    @property
    def client_cpu_us_per_request(self) -> float:
        return 1e6 * self.client_cpu_s / self.requests if self.requests else math.nan

    def summary(self) -> str:
        statuses = " ".join(f"{s}×{n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.label}: {self.requests} req in {self.duration_s:.2f}s = "
            f"{self.throughput:.0f} req/s, median {self.median_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, statuses {statuses or '-'}, errors {self.errors}"
            + (
                f", server CPU {self.server_cpu_ms_per_request:.2f} ms/req"
                if not math.isnan(self.server_cpu_s)
                else ""
            )
        )


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (all their threads), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _CLOCK_TICKS


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when installed (it is, with uvicorn[standard]): less client CPU
    taken from the server on a shared machine."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def run_load(
    base_url: str,
    make_request: RequestFactory,
    *,
    clients: int = 8,
    requests: int = 1000,
    time_cap: float = 60.0,
    warmup: int = 0,
    request_timeout: float = 30.0,
    client: str = "raw",
    label: str = "",
    check: ReplyCheck | None = None,
    first_index: int = 0,
    server_pids: Sequence[int] = (),
) -> RunResult:
    """Closed loop: `clients` concurrent clients share `requests` requests (request i is
    `make_request(first_index + warmup + i)`), stopping early at `time_cap` seconds. `warmup`
    requests go first, on the same connections, and are not measured. `check` sees every
    measured answer (e.g. to count confirmed registrations). With `server_pids` (the worker
    processes, see bench.servers.worker_pids), the servers' CPU time is measured too."""
    if clients < 1 or requests < 0 or warmup < 0:
        raise ValueError("clients must be at least 1, requests and warmup not negative")
    parts = urlsplit(base_url)
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("the load generator only targets loopback servers")
    host, port = parts.hostname, parts.port or 80
    shared: Any = None
    conns: list[Client]
    if client == "raw":
        conns = [RawConnection(host, port) for _ in range(clients)]
    elif client == "httpx":
        import httpx

        shared = httpx.AsyncClient(
            base_url=base_url,
            timeout=request_timeout,
            limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients),
        )
        conns = [HttpxClient(shared) for _ in range(clients)]
    else:
        raise ValueError(f"client must be one of {CLIENT_KINDS}")

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    error_samples: list[str] = []

    async def loop(
        conn: Client, counter: Any, stop_at: int, deadline: float, measure: bool
    ) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            index = next(counter)
            if index >= stop_at:
                return
            request = make_request(first_index + index)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(request_timeout):  # no extra task, unlike wait_for
                    reply = await conn.send(request)
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ValueError,
            ) as exc:
                if measure:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            except Exception as exc:  # httpx's own transport errors
                if measure:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            if measure:
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[reply.status] += 1
                if check is not None:
                    check(first_index + index, request, reply)

    async def phase(count: int, offset: int, measure: bool) -> float:
        counter = itertools.count(offset)
        began = time.monotonic()
        deadline = began + time_cap
        tasks = [loop(conn, counter, offset + count, deadline, measure) for conn in conns]
        # Belt and braces: the loops stop themselves at the deadline; this stops a stuck one.
        await asyncio.wait_for(asyncio.gather(*tasks), time_cap + request_timeout + 5)
        return time.monotonic() - began

    try:
        if warmup:
            await phase(warmup, 0, measure=False)
        cpu_before = time.process_time()
        server_before = process_cpu_seconds(server_pids) if server_pids else math.nan
        duration = await phase(requests, warmup, measure=True)
        cpu_used = time.process_time() - cpu_before
        server_used = process_cpu_seconds(server_pids) - server_before if server_pids else math.nan
    finally:
        for conn in conns:
            await conn.close()
        if shared is not None:
            await shared.aclose()
    return RunResult(
        label=label,
        requests=len(latencies),
        errors=errors,
        duration_s=duration,
        latencies_ms=latencies,
        statuses=statuses,
        client_cpu_s=cpu_used,
        clients=clients,
        error_samples=error_samples,
        server_cpu_s=server_used,
    )


@dataclass
class Comparison:
    """Floor and product runs of one workload, alternated; figures are medians over rounds."""

    floor: list[RunResult]
    product: list[RunResult]

    @staticmethod
    def _median(runs: list[RunResult], attr: str) -> float:
        return statistics.median(getattr(run, attr) for run in runs) if runs else math.nan

    @property
    def floor_throughput(self) -> float:
        return self._median(self.floor, "throughput")

    @property
    def product_throughput(self) -> float:
        return self._median(self.product, "throughput")

    @property
    def floor_median_ms(self) -> float:
        return self._median(self.floor, "median_ms")

    @property
    def product_median_ms(self) -> float:
        return self._median(self.product, "median_ms")

    @property
    def floor_p99_ms(self) -> float:
        return self._median(self.floor, "p99_ms")

    @property
    def product_p99_ms(self) -> float:
        return self._median(self.product, "p99_ms")

    @property
    def throughput_ratio(self) -> float:
        """product / floor: 1.0 would be as fast as the floor; the targets are 0.3 to 0.5."""
        floor = self.floor_throughput
        return self.product_throughput / floor if floor else math.nan

    @property
    def floor_cpu_ms(self) -> float:
        return self._median(self.floor, "server_cpu_ms_per_request")

    @property
    def product_cpu_ms(self) -> float:
        return self._median(self.product, "server_cpu_ms_per_request")

    @property
    def cpu_ratio(self) -> float:
        """floor CPU per request / product CPU per request: what the throughput ratio would
        be if the server were CPU-bound and alone; a cross-check of it on a noisy machine."""
        product = self.product_cpu_ms
        return self.floor_cpu_ms / product if product else math.nan

    @property
    def median_ratio(self) -> float:
        floor = self.floor_median_ms
        return self.product_median_ms / floor if floor else math.nan

    @property
    def p99_ratio(self) -> float:
        floor = self.floor_p99_ms
        return self.product_p99_ms / floor if floor else math.nan

    @property
    def product_statuses(self) -> Counter[int]:
        return sum((run.statuses for run in self.product), Counter())

    @property
    def floor_statuses(self) -> Counter[int]:
        return sum((run.statuses for run in self.floor), Counter())

    @property
    def product_errors(self) -> int:
        return sum(run.errors + run.server_errors for run in self.product)

    @property
    def floor_errors(self) -> int:
        return sum(run.errors + run.server_errors for run in self.floor)

    def summary(self) -> str:
        return (
            f"throughput {self.product_throughput:.0f} / {self.floor_throughput:.0f} req/s "
            f"= {self.throughput_ratio:.2f}; median {self.product_median_ms:.2f} / "
            f"{self.floor_median_ms:.2f} ms; p99 {self.product_p99_ms:.2f} / "
            f"{self.floor_p99_ms:.2f} ms = {self.p99_ratio:.2f}"
        )


async def interleaved(
    floor_run: Callable[[], Awaitable[RunResult]],
    product_run: Callable[[], Awaitable[RunResult]],
    rounds: int = 3,
    *,
    pause: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """floor, product, floor, product…: slow phases of a shared machine hit both sides alike."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    comparison = Comparison(floor=[], product=[])
    for _ in range(rounds):
        for runs, run in ((comparison.floor, floor_run), (comparison.product, product_run)):
            result = await run()
            runs.append(result)
            if progress is not None:
                progress(result.summary())
            await asyncio.sleep(pause)  # let the previous run's connections close
    return comparison


# ------------------------------------------------------------ which client disturbs less


async def _compare_clients(base_url: str, requests: int, clients: int) -> list[RunResult]:
    page = Request("GET", "/floor/page", {"accept-encoding": "gzip"})
    results = []
    for kind in (*CLIENT_KINDS, *CLIENT_KINDS):
        results.append(
            await run_load(
                base_url,
                lambda i: page,
                clients=clients,
                requests=requests,
                warmup=50,
                client=kind,
                label=kind,
            )
        )
    return results


def main(argv: list[str] | None = None) -> None:
    """Measure the client CPU per request of both implementations against the floor page."""
    from bench import servers

    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=main.__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="yh-bench-") as tmp:
        workdir = Path(tmp)
        with servers.fresh_database("sqlite", workdir) as url:
            servers.run_with_database(url, servers.seed_programs, 24)
            with servers.serve_floor(url, workdir) as floor:
                for result in run_async(_compare_clients(floor.url, args.requests, args.clients)):
                    print(
                        f"{result.summary()}; client CPU "
                        f"{result.client_cpu_us_per_request:.0f} µs/request"
                    )


if __name__ == "__main__":
    main()
