"""One URL serves the full page or, to htmx, the fragment it swaps in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.response import Template


def is_fragment_request(request: Request[Any, Any, Any]) -> bool:
    """An htmx request that is not boosted and not a history restore wants the fragment alone."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def page_or_fragment(
    request: Request[Any, Any, Any],
    page: str,
    fragment: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    private: bool = False,
) -> Template:
    """Render `page` (which includes `fragment`) or `fragment` alone, with `Vary: HX-Request`.

    `private` marks pages with personal data: never cached, nor kept in htmx's history.
    """
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    if private:
        all_headers["Cache-Control"] = "no-store"
        all_headers["X-Robots-Tag"] = "noindex"
    name = fragment if is_fragment_request(request) else page
    return Template(
        template_name=name,
        context=dict(context),
        status_code=status_code,
        headers=all_headers,
    )
