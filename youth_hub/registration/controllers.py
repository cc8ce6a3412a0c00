"""HTTP routes of the registration domain (thin: parse, call a service, render).

Public: the registration form and its JSON twin, /my (a link to all of one's tickets).
Staff: the registrations of a program (page, CSV, JSON), cancel and manual promotion.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_303_SEE_OTHER,
    HTTP_410_GONE,
)

from youth_hub.accounts import CurrentUser, Role, record_audit, renew_session, requires
from youth_hub.i18n import gettext as _
from youth_hub.registration import services
from youth_hub.registration.ratelimit import STORE_NAME, IdentityLimiter
from youth_hub.registration.validators import (
    ADULT_AGE,
    RegistrationInput,
    kecamatan_choices,
)
from youth_hub.web import DomainError, page_or_fragment
from youth_hub.web.formats import display_timezone
from youth_hub.web.spreadsheet import csv_bytes

FORM_FIELDS = (
    "full_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "kecamatan",
    "village",
    "school",
    "guardian_name",
    "guardian_phone",
    "guardian_consent",
)
MY_SESSION_EMAIL = "my_email"
MY_SESSION_UNTIL = "my_email_until"
MY_SESSION_SECONDS = 3600
MAX_PAGE = 10_000


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def _htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _see_other(path: str) -> Redirect:
    return Redirect(
        path=path, status_code=HTTP_303_SEE_OTHER, headers={"Cache-Control": "no-store"}
    )


def _limiter(request: Request[Any, Any, Any]) -> IdentityLimiter | None:
    """The per-email/phone limit; off with the per-address ones (YOUTH_HUB_RATE_LIMITS=off)."""
    if _settings(request).rate_limits is None:
        return None
    return IdentityLimiter(request.app.stores.get(STORE_NAME))


def _throttle(request: Request[Any, Any, Any]) -> services.Throttle | None:
    limiter = _limiter(request)
    if limiter is None:
        return None

    async def throttle(clean: RegistrationInput) -> None:
        await limiter.hit(email=clean.email, phone=clean.phone)

    return throttle


# --------------------------------------------------------------------------- the form


def _new_form_token() -> str:
    return secrets.token_urlsafe(24)


def _form_context(
    program: Mapping[str, Any],
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str = "",
    alert_code: str = "",
    form_token: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    state = services.eligibility(program, now)
    today = now.astimezone(display_timezone()).date()
    return {
        "program": program,
        "state": state,
        "values": {name: str((values or {}).get(name, "") or "") for name in FORM_FIELDS},
        "errors": dict(errors or {}),
        "alert": alert,
        "alert_code": alert_code,
        "form_token": form_token or _new_form_token(),
        "kecamatan_choices": kecamatan_choices(),
        "today": today.isoformat(),
        "adult_age": ADULT_AGE,
    }


def _render_form(
    request: Request[Any, Any, Any], context: dict[str, Any], status_code: int = HTTP_200_OK
) -> Template:
    return page_or_fragment(
        request,
        "registration/register.html",
        "registration/_register_form.html",
        context,
        status_code=status_code,
        private=True,
    )


@get("/programs/{slug:str}/register", include_in_schema=False)
async def register_page(request: Request[Any, Any, Any], slug: FromPath[str]) -> Template:
    program = await services.get_public_program(slug)
    return _render_form(request, _form_context(program))


@post("/programs/{slug:str}/register", opt={"rate_limit": "register"}, include_in_schema=False)
async def register_submit(
    request: Request[Any, Any, Any], slug: FromPath[str], data: URLEncodedBody[dict[str, str]]
) -> Response[Any]:
    token = data.get("form_token", "")
    try:
        # A double tap or a resubmission carries the same one-time token: one registration.
        key = services.check_idempotency_key(token, field="form_token") if token else None
    except DomainError:
        key = None
    try:
        result = await services.register_participant(
            slug,
            data,
            base_url=_settings(request).base_url,
            idempotency_key=key,
            throttle=_throttle(request),
        )
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        # Read again only to re-render the form (register_participant read it, with the
        # duplicate check, and an unknown program answered 404 above).
        program = await services.get_public_program(slug)
        context = _form_context(
            program,
            values=data,
            errors={e.field: e.message for e in exc.errors},
            alert=exc.message,
            alert_code=exc.code,
            form_token=key,
        )
        # htmx swaps only 2xx and 422 (base.html); other refusals still show their message.
        status = exc.status_code if (exc.status_code == 422 or not _htmx(request)) else 200
        return _render_form(request, context, status)
    path = f"/tickets/{result.code}"
    if _htmx(request):
        return Response(
            content=b"",
            status_code=HTTP_200_OK,
            headers={"HX-Redirect": path, "Cache-Control": "no-store"},
        )
    return _see_other(path)


# --------------------------------------------------------------------------- JSON API


@post(
    "/api/v1/programs/{slug:str}/registrations",
    opt={"rate_limit": "register"},
    status_code=HTTP_201_CREATED,
    tags=["registrations"],
)
async def api_register(
    request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    """Register for a program. An `Idempotency-Key` header makes a retry answer as the first
    call did. 201 `{"code", "status", "waitlist_position", "ticket_url"}`."""
    result = await services.register_participant(
        slug,
        data,
        base_url=_settings(request).base_url,
        idempotency_key=request.headers.get("idempotency-key"),
        throttle=_throttle(request),
    )
    return Response(
        result.as_json(), status_code=HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
    )


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _registration_json(
    row: Mapping[str, Any], checkins: Mapping[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    return {
        "code": row["code"],
        "status": row["status"],
        "waitlist_position": row["waitlist_position"],
        "full_name": row["full_name"],
        "email": row["email"],
        "phone": row["phone"],
        "birth_date": _iso(row["birth_date"]),
        "age": row["age"],
        "gender": row["gender"],
        "kecamatan": row["kecamatan"],
        "village": row["village"],
        "school": row["school"],
        "guardian_name": row["guardian_name"],
        "guardian_phone": row["guardian_phone"],
        "guardian_consent_at": _iso(row["guardian_consent_at"]),
        "language": row["language"],
        "registered_at": _iso(row["created_at"]),
        "promoted_at": _iso(row["promoted_at"]),
        "cancelled_at": _iso(row["cancelled_at"]),
        "checkins": list(checkins.get(row["id"], [])),
    }


def _staff(request: Request[Any, Any, Any]) -> CurrentUser:
    user: CurrentUser = request.scope["user"]
    return user


@get(
    "/api/v1/programs/{slug:str}/registrations",
    guards=[requires(Role.ORGANISER)],
    tags=["registrations"],
)
async def api_registrations(
    request: Request[Any, Any, Any], slug: FromPath[str], status: FromQuery[str | None] = None
) -> Response[dict[str, Any]]:
    """A program's registrations with personal data and check-ins (its organiser, dinporapar,
    admin). Every read is audit-logged."""
    user = _staff(request)
    program = await services.program_for_staff(slug, user)
    rows, total = await services.list_registrations(program, status=status or "", per_page=None)
    checkins = await services.checkins_by_registration(program["id"])
    await record_audit(
        user,
        "registrations.read",
        f"program:{program['slug']}",
        {"via": "api", "count": total, "status": status or ""},
        ip=_client(request),
    )
    return Response(
        {
            "program": program["slug"],
            "total": total,
            "items": [_registration_json(row, checkins) for row in rows],
        },
        headers={"Cache-Control": "no-store"},
    )


# --------------------------------------------------------------------------- /my


def _my_form(
    request: Request[Any, Any, Any],
    *,
    email: str = "",
    error: str = "",
    alert: str = "",
    status_code: int = HTTP_200_OK,
) -> Template:
    context = {
        "email": email,
        "error": error,
        "alert": alert,
        "sent": False,
        "verified": _verified_email(request) is not None,
    }
    return page_or_fragment(
        request,
        "registration/my.html",
        "registration/_my_form.html",
        context,
        status_code=status_code,
        private=True,
    )


def _verified_email(request: Request[Any, Any, Any]) -> str | None:
    session = request.session if isinstance(request.scope.get("session"), dict) else {}
    email = session.get(MY_SESSION_EMAIL)
    until = session.get(MY_SESSION_UNTIL)
    if isinstance(email, str) and isinstance(until, int | float) and until > time.time():
        return email
    return None


@get("/my", include_in_schema=False)
async def my_page(request: Request[Any, Any, Any]) -> Template:
    return _my_form(request)


@post("/my", opt={"rate_limit": "register"}, include_in_schema=False)
async def my_request(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    raw = data.get("email", "")
    try:
        limiter = _limiter(request)
        if limiter is not None:
            await limiter.hit(email=raw.strip().lower()[:254])
        await services.request_my_tickets_link(raw, base_url=_settings(request).base_url)
    except DomainError as exc:
        message = exc.errors[0].message if exc.errors else exc.message
        status = exc.status_code if (exc.status_code == 422 or not _htmx(request)) else 200
        return _my_form(request, email=raw[:254], error=message, status_code=status)
    # The same answer whether or not the email has tickets: it reveals nothing.
    context = {
        "email": "",
        "error": "",
        "alert": "",
        "sent": True,
        "verified": _verified_email(request) is not None,
    }
    return page_or_fragment(
        request, "registration/my.html", "registration/_my_form.html", context, private=True
    )


@get("/my/tickets", include_in_schema=False)
async def my_tickets(request: Request[Any, Any, Any]) -> Response[Any]:
    email = _verified_email(request)
    if email is None:
        return _see_other("/my")
    tickets = await services.tickets_for_email(email)
    return page_or_fragment(
        request,
        "registration/my_tickets.html",
        "registration/_my_tickets.html",
        {"email": email, "tickets": tickets},
        private=True,
    )


def _expired_link(request: Request[Any, Any, Any]) -> Template:
    return _my_form(
        request,
        alert=_("This link has expired or was already used. Ask for a new one below."),
        status_code=HTTP_410_GONE,
    )


@get("/my/{token:str}", include_in_schema=False)
async def my_link(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    """The emailed link only shows a button: mail scanners that pre-open links must not use
    up the single-use token (GET never changes state); the POST does."""
    if not await services.my_tickets_link_is_valid(token):
        return _expired_link(request)
    return page_or_fragment(
        request,
        "registration/my_open.html",
        "registration/_my_open.html",
        {"token": token},
        private=True,
    )


@post("/my/{token:str}", opt={"rate_limit": "register"}, include_in_schema=False)
async def my_link_open(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    email = await services.consume_my_tickets_link(token)
    if email is None:
        return _expired_link(request)
    session = dict(request.session) if isinstance(request.scope.get("session"), dict) else {}
    session[MY_SESSION_EMAIL] = email
    session[MY_SESSION_UNTIL] = int(time.time()) + MY_SESSION_SECONDS
    renew_session(request, session)  # the session now shows tickets: a fresh id
    return _see_other("/my/tickets")


# --------------------------------------------------------------------------- staff pages


def _page_number(raw: str | None) -> int:
    try:
        return min(MAX_PAGE, max(1, int(raw or "1")))
    except ValueError:
        return 1


def _list_query(q: str, status: str, page: int) -> str:
    params = {
        k: v
        for k, v in (("q", q), ("status", status), ("page", str(page)))
        if v and not (k == "page" and v == "1")
    }
    return urlencode(params)


async def _staff_list(
    request: Request[Any, Any, Any],
    slug: str,
    *,
    q: str,
    status: str,
    page: int,
    notice: str = "",
    error: str = "",
    status_code: int = HTTP_200_OK,
) -> Template:
    user = _staff(request)
    program = await services.program_for_staff(slug, user)
    status = status if status in services.STATUSES else ""
    rows, total = await services.list_registrations(program, q=q, status=status, page=page)
    pages = max(1, -(-total // services.PER_PAGE))
    await record_audit(
        user,
        "registrations.view",
        f"program:{program['slug']}",
        {"q": q[:100], "status": status, "page": page, "shown": len(rows)},
        ip=_client(request),
    )
    context = {
        "program": program,
        "rows": rows,
        "total": total,
        "q": q,
        "status": status,
        "page": page,
        "pages": pages,
        "notice": notice,
        "error": error,
        "statuses": services.STATUSES,
        "query": _list_query(q, status, page),
        "base": f"/manage/programs/{program['slug']}/registrations",
        "seats_free": max(0, program["capacity"] - program["seats_taken"]),
    }
    return page_or_fragment(
        request,
        "registration/manage.html",
        "registration/_manage_list.html",
        context,
        status_code=status_code,
        private=True,
    )


@get(
    "/manage/programs/{slug:str}/registrations",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def manage_registrations(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    q: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    page: FromQuery[str | None] = None,
) -> Template:
    return await _staff_list(
        request, slug, q=(q or "")[:100], status=status or "", page=_page_number(page)
    )


async def _staff_action(
    request: Request[Any, Any, Any],
    slug: str,
    registration_id: int,
    data: Mapping[str, str],
    action: str,
) -> Response[Any]:
    user = _staff(request)
    program = await services.program_for_staff(slug, user)
    q = data.get("q", "")[:100]
    status = data.get("status", "")
    page = _page_number(data.get("page"))
    code = await services.code_of(program["id"], registration_id)
    notice = error = ""
    status_code = HTTP_200_OK
    try:
        if code is None:
            raise services.ticket_not_found()
        base_url = _settings(request).base_url
        if action == "cancel":
            await services.cancel_registration(code, base_url=base_url, actor=user)
            notice = _("The registration was cancelled.")
        else:
            await services.promote_registration(code, base_url=base_url, actor=user)
            notice = _("The registration now has a seat.")
    except DomainError as exc:
        error = exc.message
        status_code = exc.status_code
    if not _htmx(request) and not error:
        query = _list_query(q, status, page)
        return _see_other(
            f"/manage/programs/{program['slug']}/registrations" + (f"?{query}" if query else "")
        )
    if _htmx(request):
        status_code = HTTP_200_OK  # htmx swaps 2xx only; the message is in the fragment
    return await _staff_list(
        request,
        slug,
        q=q,
        status=status,
        page=page,
        notice=notice,
        error=error,
        status_code=status_code,
    )


@post(
    "/manage/programs/{slug:str}/registrations/{registration_id:int}/cancel",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def manage_cancel(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    registration_id: FromPath[int],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    return await _staff_action(request, slug, registration_id, data, "cancel")


@post(
    "/manage/programs/{slug:str}/registrations/{registration_id:int}/promote",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def manage_promote(
    request: Request[Any, Any, Any],
    slug: FromPath[str],
    registration_id: FromPath[int],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    return await _staff_action(request, slug, registration_id, data, "promote")


def _csv_time(value: datetime | None) -> str:
    return value.astimezone(display_timezone()).strftime("%Y-%m-%d %H:%M") if value else ""


CSV_HEADER = (
    "status",
    "waitlist_position",
    "full_name",
    "email",
    "phone",
    "birth_date",
    "age",
    "gender",
    "kecamatan",
    "village",
    "school",
    "guardian_name",
    "guardian_phone",
    "guardian_consent_at",
    "registered_at",
    "promoted_at",
    "cancelled_at",
)


def registrations_csv(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a BOM so Excel reads the names right; every cell neutralised."""
    return csv_bytes(
        CSV_HEADER,
        (
            (
                row["status"],
                row["waitlist_position"] or "",
                row["full_name"],
                row["email"],
                row["phone"],
                _iso(row["birth_date"]),
                row["age"] if row["age"] is not None else "",
                row["gender"] or "",
                row["kecamatan"],
                row["village"],
                row["school"],
                row["guardian_name"],
                row["guardian_phone"],
                _csv_time(row["guardian_consent_at"]),
                _csv_time(row["created_at"]),
                _csv_time(row["promoted_at"]),
                _csv_time(row["cancelled_at"]),
            )
            for row in rows
        ),
    )


@get(
    "/manage/programs/{slug:str}/registrations.csv",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def manage_registrations_csv(
    request: Request[Any, Any, Any], slug: FromPath[str], status: FromQuery[str | None] = None
) -> Response[bytes]:
    user = _staff(request)
    program = await services.program_for_staff(slug, user)
    status = status if status in services.STATUSES else ""
    rows, total = await services.list_registrations(program, status=status, per_page=None)
    await record_audit(
        user,
        "registrations.export",
        f"program:{program['slug']}",
        {"format": "csv", "rows": total, "status": status or ""},
        ip=_client(request),
    )
    filename = f"registrations-{program['slug']}.csv"
    return Response(
        registrations_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Robots-Tag": "noindex",
        },
    )


ROUTES: list[Any] = [
    register_page,
    register_submit,
    api_register,
    api_registrations,
    my_page,
    my_request,
    my_tickets,
    my_link,
    my_link_open,
    manage_registrations,
    manage_registrations_csv,
    manage_cancel,
    manage_promote,
]
