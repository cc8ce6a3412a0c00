"""The Jinja environment: autoescaping, translations, formats and a cache-busting static URL."""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from youth_hub import i18n
from youth_hub.settings import STATIC_DIR, TEMPLATES_DIR
from youth_hub.web import formats

HTMX_FILE = "vendor/htmx-2.0.11.min.js"


@cache
def static_url(path: str) -> str:
    """`/static/<path>?v=<hash>`: a changed file gets a new URL, so assets can be cached long."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


@lru_cache(maxsize=4096)
def _translated(lang: str, message: str, autoescape: bool) -> str:
    text = i18n.translations(lang).gettext(message)
    # Trusted like the template itself, as Jinja's own gettext treats it.
    return Markup(text) % {} if autoescape else text % {}  # noqa: S704


@pass_context
def _gettext(context: Context, message: str, **variables: Any) -> str:
    """Jinja's new-style `gettext` (the same output), with the text of a message without
    variables kept per language: a page says `_('...')` a few dozen times per render, and
    the catalogues never change while the process runs."""
    autoescape = context.eval_ctx.autoescape
    if not variables:
        return _translated(i18n.current_language(), message, autoescape)
    text = i18n.gettext(message)
    return (Markup(text) if autoescape else text) % variables  # noqa: S704


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
    env.globals.update(gettext=_gettext, _=_gettext)
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
