"""`GET /api/v1/health`: is the database answering, is the scheduler running."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from youth_hub import db


@get("/api/v1/health", tags=["health"])
async def health(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    database_ok = await db.ping(db.current_engine())
    scheduler = getattr(request.app.state, "scheduler", None)
    body = {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "unavailable",
        "scheduler": "running" if scheduler is not None and scheduler.running else "off",
    }
    return Response(body, status_code=200 if database_ok else 503)
