"""Public pages (home, catalogue, a program page, a ticket page) against the floor page.

- Speed: 8 clients, interleaved floor/product runs, on SQLite and PostgreSQL: throughput ratio
  (target ≥ 0.3 of the floor page), median and p99 latencies.
- Weight: each page's compressed size with its CSS and JS (target ≤ 50 KB).
- Queries per page for 10 and for 1,000 programs, counted in-process (they must be equal).

    .venv/bin/python -m bench.pages [--backends sqlite,postgres] [--requests 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bench import fmt_ms, fmt_ratio, machine_summary, servers, update_results
from bench.loadgen import Comparison, Request, interleaved, run_async, run_load
from youth_hub import db, sql

SECTION = "Public pages"
THROUGHPUT_TARGET = 0.3
WEIGHT_TARGET_BYTES = 50_000  # 50 KB, counted in thousands to stay on the safe side
BROWSER_HEADERS = {
    "accept": "text/html,application/xhtml+xml",
    "accept-encoding": "gzip",
    "accept-language": "id-ID,id;q=0.9",
    "user-agent": "youth-hub-bench",
}
FLOOR_PAGE = "/floor/page"


@dataclass
class Page:
    name: str
    path: str


@dataclass
class Site:
    """What the product serves on this database, and what could not be benchmarked."""

    pages: list[Page]
    notes: list[str] = field(default_factory=list)
    program_slugs: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- discovery


async def _published_slugs(limit: int) -> list[str]:
    from youth_hub.catalog.tables import Program

    rows = await (
        Program.select(Program.slug)
        .where(Program.status == "published")
        .order_by(Program.first_starts_at)
        .order_by(Program.id)
        .limit(limit)
        .run()
    )
    return [row["slug"] for row in rows]


async def _insert_registration(slug: str) -> str:
    """A confirmed registration row straight in the table (as tests/factories.py does), for
    when the registration API cannot make one."""
    from youth_hub.catalog.tables import Program
    from youth_hub.registration.tables import Registration

    program = await Program.select(Program.id).where(Program.slug == slug).first().run()
    assert program is not None
    code = secrets.token_urlsafe(16)
    await (
        Registration(
            code=code,
            program=program["id"],
            status="confirmed",
            full_name="Ayu Lestari",
            first_name="Ayu",
            email=f"bench-{code[:8].lower()}@example.test",
            phone="+6281200000001",
            birth_date=date(2004, 5, 17),
            kecamatan="Bukateja",
        )
        .save()
        .run()
    )
    return code


def _register_through_api(base_url: str, slugs: list[str]) -> tuple[str | None, str]:
    """A ticket made the product's own way: POST /api/v1/programs/{slug}/registrations."""
    answer = "no program"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n, slug in enumerate(slugs[:5]):
            response = client.post(
                f"/api/v1/programs/{slug}/registrations",
                json={
                    "full_name": "Ayu Lestari",
                    "email": f"ayu{n}.{secrets.token_hex(3)}@example.test",
                    "phone": f"+628123{secrets.randbelow(10**6):06d}",
                    "birth_date": "2004-05-17",
                    "gender": "female",
                    "kecamatan": "Bukateja",
                    "guardian_name": "",
                    "guardian_phone": "",
                    "guardian_consent": False,
                },
            )
            answer = f"{response.status_code}"
            if response.status_code == 201:
                return str(response.json()["code"]), answer
    return None, answer


def discover(base_url: str, database_url: str) -> Site:
    """Home, catalogue, the first published program and a ticket on it, when each answers."""
    slugs = servers.run_with_database(database_url, _published_slugs, 200)
    site = Site(pages=[], program_slugs=slugs)
    candidates = [Page("home", "/"), Page("catalogue", "/programs")]
    if slugs:
        candidates.append(Page("program", f"/programs/{slugs[0]}"))
        code, answer = _register_through_api(base_url, slugs)
        if code is None:
            code = servers.run_with_database(database_url, _insert_registration, slugs[0])
            site.notes.append(
                f"ticket: the registration API answered {answer}, so the ticket "
                "is a registration row inserted directly"
            )
        candidates.append(Page("ticket", f"/tickets/{code}"))
    else:
        site.notes.append("no published program: no program or ticket page")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for page in candidates:
            status = client.get(page.path, headers=BROWSER_HEADERS).status_code
            if status == 200:
                site.pages.append(page)
            else:
                site.notes.append(f"{page.name} ({shape(page.path)}) skipped: it answers {status}")
    return site


def shape(path: str) -> str:
    """A path with its slug or code replaced by a placeholder, for notes."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] in {"programs", "tickets"} and not parts[2].startswith("?"):
        parts[2] = "{slug}" if parts[1] == "programs" else "{code}"
    return "/".join(parts)


def visitor_headers(base_url: str) -> dict[str, str]:
    """A returning visitor's headers: a browser's, plus the cookies a first visit set (the
    CSRF cookie, the language), so each request is not a brand-new visitor."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.get("/", headers=BROWSER_HEADERS)
        cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return {**BROWSER_HEADERS, **({"cookie": cookies} if cookies else {})}


# ---------------------------------------------------------------- speed


@dataclass
class SpeedRow:
    page: str
    comparison: Comparison


def measure_speed(
    floor: servers.Server,
    product: servers.Server,
    site: Site,
    *,
    clients: int,
    requests: int,
    rounds: int,
    warmup: int,
    log: Any = print,
) -> list[SpeedRow]:
    headers = visitor_headers(product.url)
    floor_request = Request("GET", FLOOR_PAGE, BROWSER_HEADERS)
    floor_pids = servers.worker_pids(floor)
    product_pids = servers.worker_pids(product)
    rows = []
    for page in site.pages:
        product_request = Request("GET", page.path, headers)

        async def floor_run(req: Request = floor_request) -> Any:
            return await run_load(
                floor.url,
                lambda i: req,
                clients=clients,
                requests=requests,
                warmup=warmup,
                label="floor",
                server_pids=floor_pids,
            )

        async def product_run(req: Request = product_request, name: str = page.name) -> Any:
            return await run_load(
                product.url,
                lambda i: req,
                clients=clients,
                requests=requests,
                warmup=warmup,
                label=name,
                server_pids=product_pids,
            )

        log(f"  {page.name}:")
        comparison = run_async(
            interleaved(floor_run, product_run, rounds, progress=lambda s: log(f"    {s}"))
        )
        rows.append(SpeedRow(page.name, comparison))
    return rows


# ---------------------------------------------------------------- weight


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if tag == "link" and "stylesheet" in rel and a.get("href"):
            self.css.append(a["href"])
        elif tag == "link" and "modulepreload" in rel and a.get("href"):
            self.js.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.js.append(a["src"])
        elif tag == "img" and a.get("src") and not a["src"].startswith("data:"):
            self.images.append(a["src"])


@dataclass
class Weight:
    page: str
    html: int = 0
    css: int = 0
    js: int = 0
    images: int = 0
    uncompressed: list[str] = field(default_factory=list)  # assets sent without gzip

    @property
    def total(self) -> int:
        return self.html + self.css + self.js


def _wire_size(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[int, bool, str]:
    with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        raw = b"".join(response.iter_raw())
        gzipped = response.headers.get("content-encoding") == "gzip"
        text = ""
        if response.headers.get("content-type", "").startswith("text/html"):
            import gzip

            text = (gzip.decompress(raw) if gzipped else raw).decode("utf-8", "replace")
    return len(raw), gzipped, text


def measure_weight(base_url: str, site: Site) -> list[Weight]:
    """Bytes on the wire with Accept-Encoding: gzip, for the page and every stylesheet and
    script it links (each counted in every page: a first visit pays them all)."""
    origin = urlsplit(base_url).netloc
    weights = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for page in site.pages:
            weight = Weight(page.name)
            weight.html, _, html = _wire_size(client, page.path, BROWSER_HEADERS)
            parser = _Assets()
            parser.feed(html)
            for kind, urls in (("css", parser.css), ("js", parser.js), ("images", parser.images)):
                for href in dict.fromkeys(urls):
                    url = urljoin(base_url + page.path, href)
                    if urlsplit(url).netloc != origin:
                        continue  # the CSP allows no other origin anyway
                    size, gzipped, _ = _wire_size(client, url, {"accept-encoding": "gzip"})
                    setattr(weight, kind, getattr(weight, kind) + size)
                    if not gzipped and kind != "images" and size > 500:
                        weight.uncompressed.append(urlsplit(url).path)
            weights.append(weight)
    return weights


# ---------------------------------------------------------------- queries per page


class QueryCounter:
    """Counts the statements the app sends through Piccolo's engine (every ORM query and raw
    statement goes through run_querystring or run_ddl; BEGIN/COMMIT are not counted) and the
    hand-written ones of youth_hub.sql (through its statement observers).

    Piccolo's engines have __slots__, so the engine's class is patched, in this process only,
    until close()."""

    def __init__(self, engine: Any) -> None:
        self.statements: list[str] = []
        self.cls = type(engine)
        self.original_query = self.cls.run_querystring
        self.original_ddl = self.cls.run_ddl
        counter = self

        async def run_querystring(eng: Any, querystring: Any, in_pool: bool = False) -> Any:
            counter.statements.append(" ".join(str(querystring).split())[:160])
            return await counter.original_query(eng, querystring, in_pool=in_pool)

        async def run_ddl(eng: Any, ddl: str, in_pool: bool = False) -> Any:
            counter.statements.append(" ".join(ddl.split())[:160])
            return await counter.original_ddl(eng, ddl, in_pool=in_pool)

        self.cls.run_querystring = run_querystring
        self.cls.run_ddl = run_ddl
        sql.statement_observers.append(self._observe)

    def _observe(self, text: str) -> None:
        self.statements.append(" ".join(text.split())[:160])

    def close(self) -> None:
        self.cls.run_querystring = self.original_query
        self.cls.run_ddl = self.original_ddl
        sql.statement_observers.remove(self._observe)


async def _count_pages(
    database_url: str, data_dir: Path, paths: dict[str, str]
) -> dict[str, list[str]]:
    from litestar.testing import AsyncTestClient

    from youth_hub.app import create_app
    from youth_hub.settings import Settings

    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="bench-" + secrets.token_hex(8),
        base_url="http://testserver.local",
        rate_limits=None,
    )
    app = create_app(settings, run_scheduler=False)
    found: dict[str, list[str]] = {}
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        counter = QueryCounter(db.current_engine())
        try:
            await client.get("/", headers=BROWSER_HEADERS)  # the visitor's cookies, warm caches
            for name, path in paths.items():
                await client.get(path, headers=BROWSER_HEADERS)
                counter.statements.clear()
                response = await client.get(path, headers=BROWSER_HEADERS)
                found[name] = (
                    list(counter.statements)
                    if response.status_code == 200
                    else [f"status {response.status_code}"]
                )
        finally:
            counter.close()
    return found


@dataclass
class QueryCounts:
    small: dict[str, list[str]]
    large: dict[str, list[str]]
    small_n: int
    large_n: int

    def equal(self, page: str) -> bool:
        return len(self.small.get(page, [])) == len(self.large.get(page, []))


def count_queries(backend: str, workdir: Path, small: int = 10, large: int = 1000) -> QueryCounts:
    """The same pages with `small` then `large` programs, in-process with AsyncTestClient."""
    with servers.fresh_database(backend, workdir) as url:
        programs = servers.run_with_database(url, servers.seed_programs, small, sessions=2)
        slug = programs[0]["slug"]
        code = servers.run_with_database(url, _insert_registration, slug)
        paths = {
            "home": "/",
            "catalogue": "/programs",
            "program": f"/programs/{slug}",
            "ticket": f"/tickets/{code}",
        }
        data_dir = workdir / f"count-{backend}"
        data_dir.mkdir(exist_ok=True)
        few = asyncio.run(_count_pages(url, data_dir, paths))
        servers.run_with_database(
            url, servers.seed_programs, large - small, sessions=2, prefix="more"
        )
        many = asyncio.run(_count_pages(url, data_dir, paths))
    return QueryCounts(few, many, small, large)


# ---------------------------------------------------------------- the whole benchmark


@dataclass
class BackendResult:
    backend: str
    site: Site
    seeded: str
    speed: list[SpeedRow]
    weights: list[Weight]
    queries: QueryCounts | None


@contextmanager
def product_and_floor(
    backend: str, workdir: Path, workers: int = 1
) -> Iterator[tuple[str, Any, Any, str]]:
    with servers.fresh_database(backend, workdir) as url:
        seeded = servers.run_with_database(url, servers.seed_demo)
        with (
            servers.serve_floor(url, workdir, workers=workers) as floor,
            servers.serve_product(url, workdir, workers=workers) as product,
        ):
            yield url, floor, product, seeded


def run_backend(backend: str, workdir: Path, args: argparse.Namespace) -> BackendResult:
    print(f"{backend}:", flush=True)
    with product_and_floor(backend, workdir, args.workers) as (url, floor, product, seeded):
        site = discover(product.url, url)
        for note in site.notes:
            print(f"  note: {note}")
        speed = measure_speed(
            floor,
            product,
            site,
            clients=args.clients,
            requests=args.requests,
            rounds=args.rounds,
            warmup=args.warmup,
        )
        weights = measure_weight(product.url, site)
    queries = None if args.no_queries else count_queries(backend, workdir)
    return BackendResult(backend, site, seeded, speed, weights, queries)


def _kb(size: int) -> str:
    return f"{size / 1000:.1f}"


def render(results: list[BackendResult], args: argparse.Namespace, skipped: list[str]) -> str:
    out = [
        f"Measured {machine_summary()}. Product and floor: uvicorn, {args.workers} worker each, "
        f"same command line; {args.clients} clients, {args.requests} requests per run after "
        f"{args.warmup} warm-up requests, {args.rounds} interleaved rounds (floor, product, …), "
        "medians over rounds. Requests carry a browser's headers (gzip) and the cookies of a "
        "first visit. Floor: `GET /floor/page`, one SELECT of 20 programs rendered by Jinja2. "
        "Worker CPU: user+system time of the uvicorn worker per request (SQLite's work "
        "included, PostgreSQL's server processes not); the CPU ratio (floor / product) is a "
        "cross-check of the throughput ratio that other load on the machine disturbs less.",
    ]
    if skipped:
        out += ["", *[f"- {note}" for note in skipped]]
    for result in results:
        out += ["", f"### {result.backend}", "", f"Data: {result.seeded}."]
        if result.site.notes:
            out += ["", *[f"- {note}" for note in result.site.notes]]
        out += [
            "",
            f"| page | req/s product / floor | ratio (≥ {THROUGHPUT_TARGET}) | "
            "worker CPU ms/req product / floor | CPU ratio | median ms product / floor | "
            "p99 ms product / floor | p99 ratio | non-200 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in result.speed:
            c = row.comparison
            bad = sum(n for s, n in c.product_statuses.items() if s != 200) + sum(
                r.errors for r in c.product
            )
            verdict = "✅" if c.throughput_ratio >= THROUGHPUT_TARGET else "❌"
            out.append(
                f"| {row.page} | {c.product_throughput:.0f} / {c.floor_throughput:.0f} | "
                f"{fmt_ratio(c.throughput_ratio)} {verdict} | {fmt_ms(c.product_cpu_ms)} / "
                f"{fmt_ms(c.floor_cpu_ms)} | {fmt_ratio(c.cpu_ratio)} | "
                f"{fmt_ms(c.product_median_ms)} / {fmt_ms(c.floor_median_ms)} | "
                f"{fmt_ms(c.product_p99_ms)} / {fmt_ms(c.floor_p99_ms)} | "
                f"{fmt_ratio(c.p99_ratio)} | {bad} |"
            )
        out += [
            "",
            "Weight, kB on the wire with gzip (1 kB = 1,000 bytes), CSS and JS counted on every "
            "page:",
            "",
            "| page | HTML | CSS | JS | total (≤ 50) | images (not counted) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for w in result.weights:
            verdict = "✅" if w.total <= WEIGHT_TARGET_BYTES else "❌"
            out.append(
                f"| {w.page} | {_kb(w.html)} | {_kb(w.css)} | {_kb(w.js)} | "
                f"{_kb(w.total)} {verdict} | {_kb(w.images)} |"
            )
        uncompressed = sorted({p for w in result.weights for p in w.uncompressed})
        if uncompressed:
            out += ["", "Sent without gzip: " + ", ".join(f"`{p}`" for p in uncompressed)]
        if result.queries is not None:
            q = result.queries
            out += [
                "",
                f"Database statements per page (in-process, second request of a visitor), "
                f"{q.small_n} vs {q.large_n} programs:",
                "",
                f"| page | {q.small_n} programs | {q.large_n} programs | equal |",
                "| --- | ---: | ---: | --- |",
            ]
            for page in q.small:
                small, large = q.small[page], q.large.get(page, [])
                status = next((s for s in small + large if s.startswith("status ")), None)
                if status:
                    out.append(f"| {page} | – | – | {status} |")
                    continue
                out.append(
                    f"| {page} | {len(small)} | {len(large)} | {'✅' if q.equal(page) else '❌'} |"
                )
            for page in q.small:
                if not q.equal(page):  # what grows with the data: the statements themselves
                    extra = [s for s in q.large.get(page, []) if s not in q.small[page]]
                    out.append(
                        f"\n{page} at {q.large_n} programs also ran: "
                        + "; ".join(f"`{s}`" for s in extra[:5])
                    )
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000, help="per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-queries", action="store_true", help="skip the query counts")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # One INFO line per request (httpx) and per engine start (Piccolo) otherwise.
    for name in ("httpx", "piccolo"):
        logging.getLogger(name).setLevel(logging.WARNING)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="yh-bench-pages-") as tmp:
        for backend in backends:
            if backend == "postgres" and not servers.postgres_available():
                skipped.append(f"PostgreSQL skipped: {servers.POSTGRES_ADMIN_URL} does not answer")
                continue
            results.append(run_backend(backend, Path(tmp), args))
    text = render(results, args, skipped)
    print(text)
    if not args.no_write:
        update_results(SECTION, text)
    failed = any(r.comparison.product_errors for res in results for r in res.speed)
    if failed:
        print("server errors or failed requests during the run", file=sys.stderr)


if __name__ == "__main__":
    main()
