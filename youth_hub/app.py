"""create_app(settings) -> Litestar: routes, plugins, templates, static files, lifespan."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry

from youth_hub import __version__, db, messaging
from youth_hub.accounts import controllers as accounts_controllers
from youth_hub.accounts.identity import identity_middleware
from youth_hub.accounts.sessions import RotatingSessionConfig
from youth_hub.catalog import controllers as catalog_controllers
from youth_hub.checkin import controllers as checkin_controllers
from youth_hub.lifespan import make_lifespan
from youth_hub.messaging import controllers as messaging_controllers
from youth_hub.registration import controllers as registration_controllers
from youth_hub.reports import controllers as reports_controllers
from youth_hub.settings import STATIC_DIR, RateLimit, Settings
from youth_hub.tickets import controllers as tickets_controllers
from youth_hub.web.errors import EXCEPTION_HANDLERS
from youth_hub.web.formats import configure_timezone
from youth_hub.web.health import health
from youth_hub.web.middleware import language_and_security_middleware
from youth_hub.web.templating import template_config

SESSION_MAX_AGE = 12 * 3600
MAX_BODY_BYTES = 256 * 1024  # forms and JSON are small; anything bigger is refused with 413


def build_stores(settings: Settings) -> StoreRegistry:
    """Sessions and rate limits shared by every worker: files on one host, Redis across hosts."""
    if settings.redis_url:
        redis = RedisStore.with_client(url=settings.redis_url)

        def redis_factory(name: str) -> RedisStore:
            return redis.with_namespace(f"youth_hub_{name}")

        # Registered by name so the app's lifespan closes the shared Redis client at shutdown.
        return StoreRegistry(stores={"redis": redis}, default_factory=redis_factory)
    root = settings.data_dir / "stores"
    root.mkdir(parents=True, exist_ok=True)

    def file_factory(name: str) -> FileStore:
        return FileStore(path=root / re.sub(r"[^a-z0-9_]", "_", name), create_directories=True)

    return StoreRegistry(default_factory=file_factory)


def rate_limit_configs(settings: Settings) -> list[RateLimitConfig]:
    """One limit per name in YOUTH_HUB_RATE_LIMITS, applied to the POSTs of the handlers whose
    opt carries `rate_limit=<name>` (e.g. `opt={"rate_limit": "register"}`)."""
    configs = []
    for name, limit in (settings.rate_limits or {}).items():
        configs.append(_rate_limit_config(name, limit))
    return configs


def _rate_limit_config(name: str, limit: RateLimit) -> RateLimitConfig:
    def applies(request: Request[Any, Any, Any]) -> bool:
        handler = request.scope.get("route_handler")
        opt = getattr(handler, "opt", {}) or {}
        return request.method == "POST" and opt.get("rate_limit") == name

    return RateLimitConfig(
        rate_limit=(limit.unit, limit.count),  # type: ignore[arg-type]
        check_throttle_handler=applies,
        store=f"rate_limit_{name}",
        exclude=["^/static/"],
    )


def create_app(settings: Settings | None = None, *, run_scheduler: bool = True) -> Litestar:
    settings = settings or Settings.from_env()
    engine = db.make_engine(settings.database_url)
    db.use_engine(engine)
    configure_timezone(settings.timezone)

    # A fresh session id at sign-in (no fixation); no session written for anonymous visitors.
    session_config = RotatingSessionConfig(
        store="sessions",
        key="yh_session",
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        exclude=["^/static/", "^/api/"],  # assets and the Bearer-token API carry no session
    )
    csrf_config = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="yh_csrf",
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,  # the token reaches htmx through hx-headers, not JS cookie reads
        cookie_samesite="lax",
        header_name="x-csrftoken",
        exclude=["^/api/"],  # the JSON API authenticates with Bearer tokens, never cookies
    )
    routes: list[Any] = [
        health,
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            cache_control=None,
            include_in_schema=False,
            send_as_attachment=False,
        ),
        *accounts_controllers.ROUTES,
        *catalog_controllers.ROUTES,
        *registration_controllers.ROUTES,
        *tickets_controllers.ROUTES,
        *checkin_controllers.ROUTES,
        *messaging_controllers.ROUTES,
        *reports_controllers.ROUTES,
    ]
    app = Litestar(
        route_handlers=routes,
        middleware=[
            session_config.middleware,
            identity_middleware,
            *(config.middleware for config in rate_limit_configs(settings)),
        ],
        csrf_config=csrf_config,
        stores=build_stores(settings),
        template_config=template_config(),
        # Level 6: nearly level 9's size for far less CPU per page (the inline QR included).
        compression_config=CompressionConfig(
            backend="gzip", minimum_size=500, gzip_compress_level=6
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(title="Youth Hub", version=__version__, path="/schema"),
        lifespan=[make_lifespan(settings, engine, run_scheduler=run_scheduler)],
        request_max_body_size=MAX_BODY_BYTES,
        debug=False,
    )
    app.state.settings = settings
    messaging.configure(settings)  # catalog's signal listeners plan with this app's settings
    # Outermost, around Litestar's own exception handling, so that answers for unknown routes
    # (which never reach route middleware) also get the security headers and the language.
    app.asgi_handler = language_and_security_middleware(app.asgi_handler)
    return app
