"""The Jinja environment: autoescaping, translations, formats and a cache-busting static URL."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from youth_hub import i18n
from youth_hub.settings import STATIC_DIR, TEMPLATES_DIR
from youth_hub.web import formats

HTMX_FILE = "vendor/htmx-2.0.11.min.js"


@cache
def static_url(path: str) -> str:
    """`/static/<path>?v=<hash>`: a changed file gets a new URL, so assets can be cached long."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        auto_reload=False,  # templates change only with a deploy: no stat() per render
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters.update(
        idr=formats.format_idr,
        datetime=formats.format_datetime,
        date=formats.format_date,
        time=formats.format_time,
        month=formats.format_month,
    )
    env.globals.update(
        static_url=static_url,
        current_language=i18n.current_language,
        languages=i18n.LANGUAGES,
        htmx_url=lambda: static_url(HTMX_FILE),
    )
    return env


def template_config(environment: Environment | None = None) -> TemplateConfig[Any]:
    env = environment or build_environment()
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
