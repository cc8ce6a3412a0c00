"""Smoke tests of the benchmark infrastructure with tiny numbers: the floor app answers through
the load generator on both databases, and the figures are computed and written right.
No timing assertions: only counts and statuses."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import servers, update_results
from bench.loadgen import Reply, Request, interleaved, percentile, run_load
from youth_hub import db


async def _count(sql: str) -> int:
    rows = await db.current_engine().run_ddl(sql)
    return int(next(iter(rows[0].values())))


def test_floor_endpoints_through_the_load_generator(database_url: str, tmp_path: Path) -> None:
    programs = servers.run_with_database(database_url, servers.seed_programs, 3)
    codes = servers.ticket_codes(4)
    with servers.serve_floor(database_url, tmp_path) as floor:
        servers.run_with_database(database_url, servers.seed_floor_tickets, codes)
        bodies: list[bytes] = []

        def keep(index: int, request: Request, reply: Reply) -> None:
            bodies.append(reply.content())

        page = asyncio.run(
            run_load(
                floor.url,
                lambda i: Request("GET", "/floor/page", {"accept-encoding": "gzip"}),
                clients=2,
                requests=10,
                warmup=2,
                check=keep,
                label="page",
                server_pids=servers.worker_pids(floor),
            )
        )
        assert page.requests == 10 and page.statuses == Counter({200: 10})
        assert page.server_cpu_s >= 0 and not math.isnan(page.server_cpu_ms_per_request)
        assert page.errors == 0 and not math.isnan(page.p99_ms)
        assert all(b"Program workshop 1" in body for body in bodies)

        # Each code scanned twice: the conditional UPDATE admits only the first.
        results: Counter[str] = Counter()
        checkin = asyncio.run(
            run_load(
                floor.url,
                lambda i: Request.json("POST", "/floor/checkin", {"code": codes[i % 4]}),
                clients=1,
                requests=8,
                check=lambda i, req, reply: results.update([reply.json()["result"]]),
            )
        )
        assert checkin.statuses == Counter({200: 8})
        assert results == Counter({"ok": 4, "already_checked_in": 4})

        register = asyncio.run(
            run_load(
                floor.url,
                lambda i: Request.json(
                    "POST",
                    "/floor/register",
                    {
                        "program_id": programs[0]["id"],
                        "full_name": f"Peserta {i}",
                        "email": f"p{i}@example.test",
                        "phone": f"+62812000{i:04d}",
                        "birth_date": "2008-02-29",
                    },
                ),
                clients=3,
                requests=9,
                client="httpx",
            )
        )
        assert register.statuses == Counter({201: 9})
        bad = asyncio.run(
            run_load(
                floor.url,
                lambda i: Request.json("POST", "/floor/register", {"program_id": "x"}),
                clients=1,
                requests=2,
            )
        )
        assert bad.statuses == Counter({400: 2})

    stored = servers.run_with_database(
        database_url, _count, "SELECT COUNT(*) AS n FROM registration_registration"
    )
    assert stored == 9


def test_interleaved_alternates_and_computes_ratios(database_url: str, tmp_path: Path) -> None:
    servers.run_with_database(database_url, servers.seed_programs, 2)
    order: list[str] = []
    with servers.serve_floor(database_url, tmp_path) as floor:

        def side(name: str) -> Any:
            async def run() -> Any:
                order.append(name)
                return await run_load(
                    floor.url,
                    lambda i: Request("GET", "/floor/page"),
                    clients=2,
                    requests=6,
                    label=name,
                )

            return run

        comparison = asyncio.run(interleaved(side("floor"), side("product"), rounds=2, pause=0))
    assert order == ["floor", "product", "floor", "product"]
    assert len(comparison.floor) == len(comparison.product) == 2
    assert comparison.product_statuses == Counter({200: 12})
    assert comparison.throughput_ratio > 0 and comparison.p99_ratio > 0
    assert comparison.product_errors == 0


def test_load_generator_refuses_non_loopback_targets() -> None:
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(run_load("http://example.com", lambda i: Request(), requests=1))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 99) == 99.0
    assert percentile(values, 50) == 50.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 99))


def test_update_results_rewrites_only_its_section(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    update_results("Public pages", "pages v1", path)
    update_results("Check-in", "checkin v1", path)
    update_results("Public pages", "pages v2", path)
    text = path.read_text()
    assert text.startswith("# Youth Hub — benchmark figures")
    assert "pages v2" in text and "pages v1" not in text
    assert "checkin v1" in text
    assert text.index("## Public pages") < text.index("## Check-in")
    assert text.count("## Public pages") == 1


async def test_query_counter_counts_statements_then_restores_the_engine(engine: Any) -> None:
    from bench.pages import QueryCounter
    from youth_hub.catalog.tables import Program

    original = type(engine).run_querystring
    counter = QueryCounter(engine)
    try:
        await Program.select(Program.id).run()
        await Program.count().run()
    finally:
        counter.close()
    assert len(counter.statements) == 2
    assert all("catalog_program" in statement for statement in counter.statements)
    assert type(engine).run_querystring is original
    await Program.select(Program.id).run()
    assert len(counter.statements) == 2


def test_page_weight_finds_stylesheets_and_scripts() -> None:
    from bench.pages import _Assets

    parser = _Assets()
    parser.feed(
        '<link rel="stylesheet" href="/static/css/app.css?v=1"><link rel="icon" href="/f.ico">'
        '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script><script>inline</script>'
        '<img src="/tickets/x/qr.svg" alt=""><img src="data:image/png;base64,AA" alt="">'
    )
    assert parser.css == ["/static/css/app.css?v=1"]
    assert parser.js == ["/static/vendor/htmx-2.0.11.min.js"]
    assert parser.images == ["/tickets/x/qr.svg"]


def test_run_all_knows_the_present_modules_and_calls_main_without_run_alls_argv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys
    import types

    from bench import run_all

    assert {"pages", "memory"} <= set(run_all.present())
    seen: list[Any] = []
    legacy = types.SimpleNamespace(main=lambda: seen.append(list(sys.argv)))
    modern = types.SimpleNamespace(main=lambda argv: seen.append(argv))
    monkeypatch.setattr(sys, "argv", ["bench.run_all", "--only", "x"])
    run_all._call_main(legacy, "qr_render")
    run_all._call_main(modern, "pages")
    assert seen == [["bench.qr_render"], []]
    assert sys.argv == ["bench.run_all", "--only", "x"]
