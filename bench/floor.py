"""The floor: the fastest this stack (Litestar, Piccolo's engine, Jinja2, uvicorn) can answer,
on the product's own database. Each endpoint does only the one essential statement:

- POST /floor/checkin  {"code"}: one conditional UPDATE of a ticket row (bench_floor_ticket,
  see bench/README.md for why a table of its own): `ok` the first time, `already_checked_in`
  after;
- POST /floor/register {"program_id", "full_name", "email", "phone", "birth_date"}: one INSERT
  into the product's registration_registration table;
- GET  /floor/page: one SELECT of published programs from catalog_program, rendered by Jinja2.

Served by bench.servers.serve_floor with the product's uvicorn command line:
`python -m uvicorn bench.floor:floor_factory --factory ...`, YOUTH_HUB_DATABASE_URL set.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, Response, get, post
from litestar.config.compression import CompressionConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from piccolo.engine.base import Engine
from piccolo.querystring import QueryString

from youth_hub import db

PAGE_SIZE = 20

# About the size of a catalogue page's list; autoescaped like the product's templates.
PAGE_TEMPLATE = """<!doctype html>
<html lang="id">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Program</title></head>
<body><main><h1>Program</h1>
<ul>
{% for p in programs %}
<li><a href="/programs/{{ p.slug }}">{{ p.title }}</a> ({{ p.kind }}, {{ p.kecamatan }})
 <p>{{ p.summary }}</p>
 <time datetime="{{ p.first_starts_at }}">{{ p.first_starts_at }}</time>
 {% if p.price_idr %}Rp {{ p.price_idr }}{% else %}Gratis{% endif %}</li>
{% endfor %}
</ul></main></body></html>
"""

_PAGE_SQL = (
    "SELECT id, slug, kind, title, summary, kecamatan, price_idr, first_starts_at "
    "FROM catalog_program WHERE status = {} ORDER BY first_starts_at, id LIMIT " + str(PAGE_SIZE)
)
_CHECKIN_SQL = (
    "UPDATE bench_floor_ticket SET checked_in_at = {} "
    "WHERE code = {} AND checked_in_at IS NULL RETURNING id"
)
_REGISTER_SQL = (
    "INSERT INTO registration_registration (code, program, status, waitlist_seq, full_name, "
    "first_name, email, phone, birth_date, gender, kecamatan, village, school, guardian_name, "
    "guardian_phone, guardian_consent_at, language, created_at, promoted_at, cancelled_at) "
    "VALUES ({}, {}, 'confirmed', NULL, {}, {}, {}, {}, {}, NULL, {}, '', '', '', '', NULL, "
    "'id', {}, NULL, NULL) RETURNING id"
)


def _ticket_ddl(engine: Engine) -> str:
    if db.is_sqlite(engine):
        return (
            "CREATE TABLE IF NOT EXISTS bench_floor_ticket (id INTEGER PRIMARY KEY, "
            "code VARCHAR(64) NOT NULL UNIQUE, checked_in_at TIMESTAMPTZ NULL)"
        )
    return (
        "CREATE TABLE IF NOT EXISTS bench_floor_ticket (id SERIAL PRIMARY KEY, "
        "code VARCHAR(64) NOT NULL UNIQUE, checked_in_at TIMESTAMPTZ NULL)"
    )


async def ensure_floor_tables(engine: Engine) -> None:
    """Run once by bench.servers before the floor starts (workers racing on DDL would fail)."""
    await engine.run_ddl(_ticket_ddl(engine))


def floor_ticket_insert(engine: Engine, codes: Sequence[str]) -> str:
    """One multi-row INSERT of ticket codes; codes are URL-safe base64, checked here anyway."""
    for code in codes:
        if not code.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"not a URL-safe ticket code: {code!r}")
    values = ", ".join(f"('{code}')" for code in codes)
    return f"INSERT INTO bench_floor_ticket (code) VALUES {values} ON CONFLICT (code) DO NOTHING"


async def _run(sql: str, *args: Any) -> list[dict[str, Any]]:
    engine = db.current_engine()
    rows: list[dict[str, Any]] = await engine.run_querystring(QueryString(sql, *args), in_pool=True)
    return rows


@get("/floor/health")
async def floor_health() -> dict[str, str]:
    await _run("SELECT 1")
    return {"status": "ok"}


@get("/floor/page")
async def floor_page() -> Template:
    programs = await _run(_PAGE_SQL, "published")
    return Template(template_name="page.html", context={"programs": programs})


@post("/floor/checkin")
async def floor_checkin(data: dict[str, Any]) -> Response[dict[str, str]]:
    code = data.get("code")
    if not isinstance(code, str) or not code:
        return Response({"detail": "code is required"}, status_code=400)
    rows = await _run(_CHECKIN_SQL, datetime.now(UTC), code)
    return Response({"result": "ok" if rows else "already_checked_in"}, status_code=200)


@post("/floor/register")
async def floor_register(data: dict[str, Any]) -> Response[dict[str, Any]]:
    try:
        program_id = int(data["program_id"])
        full_name = str(data["full_name"])[:120]
        birth_date = date.fromisoformat(str(data["birth_date"]))
        email = str(data["email"]).strip().lower()[:254]
        phone = str(data["phone"])[:20]
    except (KeyError, TypeError, ValueError):
        return Response(
            {"detail": "program_id, full_name, email, phone, birth_date"}, status_code=400
        )
    code = secrets.token_urlsafe(16)
    rows = await _run(
        _REGISTER_SQL,
        code,
        program_id,
        full_name,
        full_name.split(" ")[0][:60],
        email,
        phone,
        birth_date,
        str(data.get("kecamatan", ""))[:60],
        datetime.now(UTC),
    )
    return Response({"id": rows[0]["id"], "code": code, "status": "confirmed"}, status_code=201)


def create_floor_app(database_url: str) -> Litestar:
    engine = db.make_engine(database_url)
    db.use_engine(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.start(engine)  # the same pool size (PostgreSQL) and WAL (SQLite) as the product
        try:
            yield
        finally:
            await db.stop(engine)

    environment = Environment(
        loader=DictLoader({"page.html": PAGE_TEMPLATE}),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return Litestar(
        route_handlers=[floor_health, floor_page, floor_checkin, floor_register],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        # The product gzips what it sends phones; the floor pays the same to compare like with like.
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        lifespan=[lifespan],
        debug=False,
    )


def floor_factory() -> Litestar:
    return create_floor_app(os.environ["YOUTH_HUB_DATABASE_URL"])
