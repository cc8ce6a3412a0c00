"""The base every domain stands on: migrations, health, headers, errors, languages."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from youth_hub import db


async def test_migrations_create_every_table(engine: Any) -> None:
    expected = {table._meta.tablename for table in db.all_table_classes()}
    if db.is_sqlite(engine):
        rows = await engine.run_ddl("SELECT name FROM sqlite_master WHERE type = 'table'")
        present = {r["name"] for r in rows}
    else:
        rows = await engine.run_ddl("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        present = {r["tablename"] for r in rows}
    assert expected <= present, expected - present


async def test_migrating_twice_changes_nothing(engine: Any, settings: Any) -> None:
    await db.migrate(engine, settings.database_url)
    await db.migrate(engine, settings.database_url)


async def test_health_reports_database_and_scheduler(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "scheduler": "off"}


async def test_security_headers_on_every_answer(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/health")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_unknown_page_is_a_translated_404_without_traceback(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.text
    assert "Traceback" not in response.text
    english = await client.get("/no/such/page?lang=en")
    assert "Page not found" in english.text
    # the choice sticks through the cookie
    again = await client.get("/still/missing")
    assert "Page not found" in again.text


async def test_unknown_api_route_answers_json(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert body["detail"] and body["errors"] == []


async def test_oversized_body_is_refused(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        "/api/v1/health", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code in (405, 413)
    assert "Traceback" not in response.text


async def test_unexpected_error_is_a_500_page_without_traceback(app: Any, engine: Any) -> None:
    from litestar import get

    @get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.register(boom)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/boom")
        assert response.status_code == 500
        assert "Terjadi kesalahan" in response.text
        assert "secret internals" not in response.text and "Traceback" not in response.text


async def test_locked_database_is_a_503_with_retry_after(app: Any, engine: Any) -> None:
    import sqlite3

    from litestar import get

    @get("/api/v1/locked", include_in_schema=False)
    async def locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    app.register(locked)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/api/v1/locked")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json()["detail"]
