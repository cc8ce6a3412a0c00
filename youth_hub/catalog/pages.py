"""HTML pages of the catalogue: home, catalogue, program page, and the staff pages under
/manage. Thin: parse, call a service, render."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from youth_hub.accounts import CurrentUser, Role, requires
from youth_hub.catalog import services
from youth_hub.catalog.constants import KECAMATAN, KINDS, PER_PAGE_PAGES
from youth_hub.catalog.forms import (
    ProgramForm,
    blank_form,
    form_from_detail,
    form_to_data,
    map_errors,
    parse_form,
)
from youth_hub.i18n import gettext as _
from youth_hub.web import ValidationFailed, is_fragment_request, page_or_fragment
from youth_hub.web.formats import display_timezone, format_idr


def kind_label(kind: str) -> str:
    return {
        "workshop": _("Workshop"),
        "sport": _("Academic sports"),
        "tour": _("Educational tourism"),
    }.get(kind, kind)


def kind_plural(kind: str) -> str:
    return {
        "workshop": _("Workshops"),
        "sport": _("Academic sports programs"),
        "tour": _("Educational tours"),
    }.get(kind, kind)


def status_label(status: str) -> str:
    return {
        "draft": _("Draft"),
        "published": _("Published"),
        "finished": _("Finished"),
        "cancelled": _("Cancelled"),
    }.get(status, status)


def map_url(program: dict[str, Any]) -> str:
    """OpenStreetMap at the coordinates, else a search for the venue in Purbalingga."""
    lat, lon = program.get("latitude"), program.get("longitude")
    if lat is not None and lon is not None:
        return (
            f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}"
            f"#map=16/{lat:.5f}/{lon:.5f}"
        )
    place = ", ".join(
        p for p in (program.get("venue"), program.get("kecamatan"), "Purbalingga") if p
    )
    return "https://www.openstreetmap.org/search?query=" + quote(place)


def tz_abbreviation() -> str:
    name = str(display_timezone())
    return {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(name, "")


def card_labels() -> dict[str, Any]:
    """What every program card says, translated once per page."""
    return {
        "kinds": {kind: kind_label(kind) for kind in KINDS},
        "free": format_idr(0),
        "kec": _("Kec."),
        "seats": _("%(n)s seats left"),  # a format string: the card fills in n
        "full": _("Full: waiting list"),
        "topics": _("Topics"),
    }


def _common() -> dict[str, Any]:
    return {
        "card_labels": card_labels(),
        "tz": tz_abbreviation(),
        "kind_label": kind_label,
        "kind_plural": kind_plural,
        "status_label": status_label,
        "kinds": KINDS,
        "kecamatan_choices": KECAMATAN,
    }


def _user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    user = request.scope.get("user")
    return user if isinstance(user, CurrentUser) else None


# ----------------------------------------------------------------------------- public pages


@get("/", name="home", include_in_schema=False)
async def home() -> Template:
    upcoming = await services.list_upcoming_by_kind(limit=4)
    return Template(template_name="catalog/home.html", context={**_common(), "upcoming": upcoming})


@get("/programs", name="catalogue", include_in_schema=False)
async def catalogue(
    request: Request[Any, Any, Any],
    kind: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    topic: FromQuery[str | None] = None,
    kecamatan: FromQuery[str | None] = None,
    month: FromQuery[str | None] = None,
    free: FromQuery[str | None] = None,
    seats: FromQuery[str | None] = None,
    page: FromQuery[str | None] = None,
) -> Template:
    """The catalogue; an htmx request (the filter form, the pager) gets the results only."""
    filters, raw = services.parse_filters(kind, q, topic, kecamatan, month, free, page, seats=seats)
    found = await services.list_published(filters, per_page=PER_PAGE_PAGES)
    pages = max((found["total"] + PER_PAGE_PAGES - 1) // PER_PAGE_PAGES, 1)

    def page_url(number: int) -> str:
        query = urlencode(filters.query_items(number))
        return "/programs" + (f"?{query}" if query else "")

    context = {
        **_common(),
        "found": found,
        "filters": filters,
        "raw": raw,
        "pages": pages,
        "prev_url": page_url(filters.page - 1) if filters.page > 1 else None,
        "next_url": page_url(filters.page + 1) if filters.page < pages else None,
        "fragment": is_fragment_request(request),
    }
    return page_or_fragment(
        request,
        "catalog/catalogue.html",
        "catalog/_results.html",
        context,
        status_code=HTTP_422_UNPROCESSABLE_ENTITY if raw.errors else 200,
    )


@get("/programs/{slug:str}", name="program", include_in_schema=False)
async def program_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    detail = await services.get_program_detail(slug, _user(request))
    if detail is None:
        raise services.program_not_found()
    context = {
        **_common(),
        "p": detail,
        "days": services.group_by_day(detail["sessions"]) if detail["kind"] == "tour" else [],
        "registration": services.registration_state(detail),
        "map_url": map_url(detail),
        "paragraphs": [
            part.strip() for part in re.split(r"\n\s*\n", detail["description"]) if part.strip()
        ],
    }
    headers = {"Cache-Control": "no-store"} if detail["status"] == "draft" else None
    return Template(template_name="catalog/program.html", context=context, headers=headers)


# ----------------------------------------------------------------------------- staff pages


@get("/manage", name="manage", guards=[requires(Role.SCANNER)], include_in_schema=False)
async def manage(
    request: Request[Any, Any, Any], saved: FromQuery[str | None] = None
) -> Template | Redirect:
    user = _user(request)
    assert user is not None  # the guard let only staff in
    if not user.at_least(Role.ORGANISER):
        return Redirect(path="/scan", status_code=HTTP_303_SEE_OTHER)
    programs = await services.list_managed(user)
    return Template(
        template_name="catalog/manage.html",
        context={**_common(), "programs": programs, "may_create": services.may_create(user)},
        headers={"Cache-Control": "no-store"},
    )


def _render_form(
    request: Request[Any, Any, Any],
    form: ProgramForm,
    *,
    action_url: str,
    program: dict[str, Any] | None,
    status_code: int = 200,
) -> Template:
    user = _user(request)
    context = {
        **_common(),
        "form": form,
        "action_url": action_url,
        "program": program,
        "kinds_allowed": services.kinds_for(user),
        "saved": request.query_params.get("saved", ""),
    }
    return page_or_fragment(
        request,
        "catalog/program_form.html",
        "catalog/_sessions.html",
        context,
        status_code=status_code,
        private=True,
    )


@get("/manage/programs/new", guards=[requires(Role.ORGANISER)], include_in_schema=False)
async def new_program(request: Request[Any, Any, Any]) -> Template:
    user = _user(request)
    allowed = services.kinds_for(user)
    wanted = request.query_params.get("kind")
    form = blank_form(wanted if wanted in allowed else allowed[0])
    return _render_form(request, form, action_url="/manage/programs/new", program=None)


@post("/manage/programs/new", guards=[requires(Role.ORGANISER)], include_in_schema=False)
async def create_program(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, Any]]
) -> Template | Redirect:
    form = parse_form(data)
    if form.action in ("add_session", "remove_session"):
        return _render_form(request, form, action_url="/manage/programs/new", program=None)
    try:
        created = await services.create_program(_user(request), form_to_data(form))
    except ValidationFailed as failed:
        form.errors = map_errors(failed.errors)
        return _render_form(
            request,
            form,
            action_url="/manage/programs/new",
            program=None,
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return Redirect(
        path=f"/manage/programs/{created['slug']}/edit",
        query_params={"saved": created["status"]},
        status_code=HTTP_303_SEE_OTHER,
    )


@get("/manage/programs/{slug:str}/edit", guards=[requires(Role.ORGANISER)], include_in_schema=False)
async def edit_program(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    detail = await services.get_program_for_change(_user(request), slug)
    return _render_form(
        request,
        form_from_detail(detail),
        action_url=f"/manage/programs/{detail['slug']}/edit",
        program=detail,
    )


@post(
    "/manage/programs/{slug:str}/edit", guards=[requires(Role.ORGANISER)], include_in_schema=False
)
async def save_program(
    request: Request[Any, Any, Any], slug: FromPath[str], data: URLEncodedBody[dict[str, Any]]
) -> Template | Redirect:
    user = _user(request)
    detail = await services.get_program_for_change(user, slug)
    action_url = f"/manage/programs/{detail['slug']}/edit"
    form = parse_form(data)
    if form.action in ("add_session", "remove_session"):
        return _render_form(request, form, action_url=action_url, program=detail)
    changes = form_to_data(form)
    if changes.pop("publish"):
        changes["status"] = "published"
    try:
        changed = await services.update_program(user, slug, changes)
    except ValidationFailed as failed:
        form.errors = map_errors(failed.errors)
        return _render_form(
            request,
            form,
            action_url=action_url,
            program=detail,
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return Redirect(
        path=action_url, query_params={"saved": changed["status"]}, status_code=HTTP_303_SEE_OTHER
    )


async def _change_status(
    request: Request[Any, Any, Any], slug: str, status: str
) -> Template | Redirect:
    user = _user(request)
    try:
        changed = await services.update_program(user, slug, {"status": status})
    except ValidationFailed as failed:
        # Publishing needs a schedule: show the form with what is missing.
        detail = await services.get_program_for_change(user, slug)
        form = form_from_detail(detail)
        form.errors = map_errors(failed.errors)
        return _render_form(
            request,
            form,
            action_url=f"/manage/programs/{slug}/edit",
            program=detail,
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return Redirect(
        path=f"/manage/programs/{changed['slug']}/edit",
        query_params={"saved": changed["status"]},
        status_code=HTTP_303_SEE_OTHER,
    )


@post(
    "/manage/programs/{slug:str}/publish",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def publish_program(
    request: Request[Any, Any, Any], slug: FromPath[str]
) -> Template | Redirect:
    return await _change_status(request, slug, "published")


@post(
    "/manage/programs/{slug:str}/cancel", guards=[requires(Role.ORGANISER)], include_in_schema=False
)
async def cancel_program(
    request: Request[Any, Any, Any], slug: FromPath[str]
) -> Template | Redirect:
    return await _change_status(request, slug, "cancelled")


PAGES: list[Any] = [
    home,
    catalogue,
    program_page,
    manage,
    new_program,
    create_program,
    edit_program,
    save_program,
    publish_program,
    cancel_program,
]
