"""HTTP routes of the checkin domain (thin: parse, call a service, render).

The JSON API (`/api/v1/...`) takes Bearer tokens only; the scan page's own endpoints under
`/scan` use the session and the CSRF token, so the page never needs an API token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_303_SEE_OTHER,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

from youth_hub.accounts import CurrentUser, Role, record_audit, requires
from youth_hub.checkin import services
from youth_hub.checkin.services import CheckinAnswer
from youth_hub.i18n import gettext as _
from youth_hub.settings import STATIC_DIR
from youth_hub.web import DomainError, ValidationFailed, is_fragment_request, page_or_fragment
from youth_hub.web.formats import format_datetime
from youth_hub.web.templating import HTMX_FILE, static_url

DECODER_FILE = "vendor/barcode-detector-3.2.2-ponyfill.min.js"
DECODER_WASM = "vendor/zxing_reader-3.1.3.wasm"
SCAN_ASSETS = ("css/app.css", "css/checkin.css", "js/scan.js", HTMX_FILE, "img/favicon.svg")
MAX_QUERY = 200


def _user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = request.scope.get("user")
    assert isinstance(user, CurrentUser)  # the guard let only signed-in staff through
    return user


def _data_dir(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings.data_dir


def _see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


# --------------------------------------------------------------------------- JSON API


@post(
    "/api/v1/checkin",
    guards=[requires(Role.SCANNER)],
    tags=["checkin"],
    summary="Scan one ticket",
    status_code=HTTP_200_OK,
)
async def api_checkin(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> dict[str, Any]:
    answer = await services.perform_checkin(
        data.get("payload"),
        data.get("program"),
        scanner=_user(request),
        session_id=data.get("session_id"),
        nonce=data.get("nonce"),
        device_id=data.get("device_id"),
        data_dir=_data_dir(request),
    )
    return answer.as_dict()


@post(
    "/api/v1/checkin/batch",
    guards=[requires(Role.SCANNER)],
    tags=["checkin"],
    summary="Scans made offline, sent late",
    status_code=HTTP_200_OK,
)
async def api_checkin_batch(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> dict[str, Any]:
    answers = await services.perform_checkin_batch(
        data.get("scans"), scanner=_user(request), data_dir=_data_dir(request)
    )
    return {"results": [a.as_dict() for a in answers]}


@get(
    "/api/v1/programs/{slug:str}/checkin-bundle",
    guards=[requires(Role.SCANNER)],
    tags=["checkin"],
    summary="What a scanner needs offline (ids only, no personal data)",
)
async def api_checkin_bundle(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
    bundle = await services.build_checkin_bundle(
        slug, user=_user(request), data_dir=_data_dir(request)
    )
    return Response(bundle, headers={"Cache-Control": "no-store"})


@post(
    "/api/v1/programs/{slug:str}/scanners",
    guards=[requires(Role.ORGANISER)],
    tags=["checkin"],
    summary="Assign a scanner to a program",
)
async def api_assign_scanner(
    request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    user = _user(request)
    staff, created = await services.assign_scanner(slug, data.get("email"), by=user, hide=False)
    if created:
        await record_audit(
            user, "checkin.assign_scanner", f"program:{slug}", {"scanner": staff["email"]}
        )
    return Response(
        {"program": slug, "email": staff["email"], "role": staff["role"], "assigned": True},
        status_code=HTTP_201_CREATED if created else HTTP_200_OK,
    )


# --------------------------------------------------------------------------- the scan page


def _answer_view(answer: CheckinAnswer) -> dict[str, Any]:
    return {
        "result": answer.result,
        "tone": answer.tone,
        "title": services.result_title(answer.result),
        "reason": services.result_reason(answer.result),
        "first_name": answer.first_name or "",
        "checked_in_at": answer.checked_in_at,
        "session_id": answer.session_id,
    }


def _choose_session(
    program: dict[str, Any] | None,
    sessions: list[dict[str, Any]],
    session_param: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The session asked for; by default the one open now ("auto": always the open one)."""
    session = open_now = None
    if program is not None:
        open_now = services.open_session(program, sessions, now)
        wanted = session_param if session_param not in (None, "") else None
        if wanted is not None:
            session = next((s for s in sessions if str(s["id"]) == wanted), None)
        if session is None and wanted != "auto":
            session = open_now
    return {
        "session": session,
        "open_now": open_now,
        "session_value": str(session["id"]) if session else "",
    }


async def _counts(program: dict[str, Any] | None, chosen: dict[str, Any]) -> dict[str, int]:
    if program is None:
        return {"expected": 0, "checked_in": 0}
    counted = chosen["session"] or chosen["open_now"]
    return await services.count_checkins(program["id"], counted["id"] if counted else None)


async def _scan_context(
    request: Request[Any, Any, Any],
    *,
    program_slug: str | None,
    session_param: str | None,
    answer: CheckinAnswer | None = None,
    notice: str = "",
    errors: dict[str, str] | None = None,
    payload: str = "",
    search: dict[str, Any] | None = None,
) -> dict[str, Any]:
    user = _user(request)
    now = datetime.now(UTC)
    programs = await services.list_scannable_programs(user)
    program = next((p for p in programs if p["slug"] == program_slug), None)
    sessions: list[dict[str, Any]] = []
    if program is None and programs and not program_slug:
        # Default: a program with a check-in open now, else the first one.
        program = await services.find_open_program(programs, now) or programs[0]
    if program is not None:
        sessions = await services.list_checkin_sessions(program["id"])
    chosen = _choose_session(program, sessions, session_param, now)
    recent = await services.list_recent_scans(program["id"], user, now=now) if program else []
    return {
        "user": user,
        "programs": programs,
        "program": program,
        "program_unknown": bool(program_slug) and program is None,
        "sessions": sessions,
        **chosen,
        "counts": await _counts(program, chosen),
        "recent": recent,
        "answer": _answer_view(answer) if answer else None,
        "notice": notice,
        "errors": errors or {},
        "payload": payload,
        "nonce": secrets.token_urlsafe(12),
        "search": search,
        "result_title": services.result_title,
        "new_nonce": lambda: secrets.token_urlsafe(12),
        "decoder_url": static_url(DECODER_FILE),
        "wasm_url": f"/static/{DECODER_WASM}",
    }


def _render_scan(
    request: Request[Any, Any, Any], context: dict[str, Any], status_code: int = HTTP_200_OK
) -> Template:
    return page_or_fragment(
        request,
        "checkin/scan.html",
        "checkin/_scan_live.html",
        context,
        status_code=status_code,
        private=True,
    )


@get("/scan", guards=[requires(Role.SCANNER)], include_in_schema=False, name="scan")
async def scan_page(
    request: Request[Any, Any, Any],
    program: FromQuery[str | None] = None,
    session: FromQuery[str | None] = None,
) -> Template:
    context = await _scan_context(
        request,
        program_slug=(program or "")[:MAX_QUERY] or None,
        session_param=(session or "")[:20] or None,
    )
    # The whole page: the program chooser, the camera and the offline queue around the fragment.
    return Template(
        template_name="checkin/scan.html",
        context=context,
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


@get("/scan/offline", guards=[requires(Role.SCANNER)], include_in_schema=False)
async def scan_offline_page() -> Template:
    # Kept by the scan page's service worker in the scanner's language, and shown without a
    # network for a program this phone never opened online; scan.js lists those it did open.
    return Template(
        template_name="checkin/scan_offline.html",
        context={},
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )


def _form_text(data: dict[str, str], name: str, limit: int = 4000) -> str:
    value = data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


@post(
    "/scan/checkin",
    guards=[requires(Role.SCANNER)],
    include_in_schema=False,
    status_code=HTTP_200_OK,
)
async def scan_checkin(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    slug = _form_text(data, "program", MAX_QUERY)
    session_param = _form_text(data, "session_id", 20)
    payload = _form_text(data, "payload")
    try:
        answer = await services.perform_checkin(
            payload,
            slug,
            scanner=_user(request),
            session_id=session_param or None,
            nonce=_form_text(data, "nonce", 200) or None,
            device_id=_form_text(data, "device_id", 200) or None,
            data_dir=_data_dir(request),
        )
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        context = await _scan_context(
            request,
            program_slug=slug,
            session_param=session_param,
            errors=errors,
            payload=payload[:200],
        )
        return _render_scan(request, context, HTTP_422_UNPROCESSABLE_ENTITY)
    context = await _scan_context(
        request, program_slug=slug, session_param=session_param, answer=answer
    )
    return _render_scan(request, context)


@post(
    "/scan/manual",
    guards=[requires(Role.SCANNER)],
    include_in_schema=False,
    status_code=HTTP_200_OK,
)
async def scan_manual(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    slug = _form_text(data, "program", MAX_QUERY)
    session_param = _form_text(data, "session_id", 20)
    try:
        answer = await services.perform_manual_checkin(
            _form_text(data, "registration_id", 20),
            slug,
            scanner=_user(request),
            session_id=session_param or None,
            nonce=_form_text(data, "nonce", 200) or None,
        )
    except ValidationFailed as exc:
        context = await _scan_context(
            request,
            program_slug=slug,
            session_param=session_param,
            notice=exc.errors[0].message if exc.errors else exc.message,
        )
        return _render_scan(request, context, HTTP_422_UNPROCESSABLE_ENTITY)
    context = await _scan_context(
        request, program_slug=slug, session_param=session_param, answer=answer
    )
    return _render_scan(request, context)


@post(
    "/scan/undo", guards=[requires(Role.SCANNER)], include_in_schema=False, status_code=HTTP_200_OK
)
async def scan_undo(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    slug = _form_text(data, "program", MAX_QUERY)
    session_param = _form_text(data, "session_id", 20)
    status = HTTP_200_OK
    try:
        await services.undo_checkin(_form_text(data, "checkin_id", 20), user=_user(request))
        notice = _("The check-in was undone. The ticket can be scanned again.")
    except DomainError as exc:
        notice, status = exc.message, exc.status_code
    context = await _scan_context(
        request, program_slug=slug, session_param=session_param, notice=notice
    )
    return _render_scan(request, context, status)


@get("/scan/search", guards=[requires(Role.SCANNER)], include_in_schema=False)
async def scan_search(
    request: Request[Any, Any, Any],
    program: FromQuery[str | None] = None,
    session: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
) -> Template:
    user = _user(request)
    slug = (program or "")[:MAX_QUERY]
    found = await services.program_by_slug(slug)
    if not await services.may_scan(user, found):
        raise DomainError(
            code="not_found", message=_("No program has this address."), status_code=404
        )
    query = (q or "")[:MAX_QUERY]
    search: dict[str, Any] = {"q": query, "results": [], "error": ""}
    status = HTTP_200_OK
    session_param = (session or "")[:20]
    session_id = int(session_param) if session_param.isdigit() and len(session_param) < 10 else None
    try:
        search["results"] = await services.search_registrations(
            found, query, user=user, session_id=session_id
        )
    except ValidationFailed as exc:
        search["error"] = exc.errors[0].message
        status = HTTP_422_UNPROCESSABLE_ENTITY
    if search["results"] and services.can_manage(user, found):
        # Managers see full names and kecamatan: a view of personal data (scanners see only
        # a first name and an initial). The typed text itself is not kept.
        await record_audit(
            user,
            "checkin.name_search",
            f"program:{found['slug']}",
            {"results": len(search["results"])},
        )
    context = await _scan_context(
        request, program_slug=slug, session_param=session_param, search=search
    )
    return page_or_fragment(
        request,
        "checkin/scan.html",
        "checkin/_search_results.html",
        context,
        status_code=status,
        private=True,
    )


@get("/scan/counts", guards=[requires(Role.SCANNER)], include_in_schema=False)
async def scan_counts(
    request: Request[Any, Any, Any],
    program: FromQuery[str | None] = None,
    session: FromQuery[str | None] = None,
) -> Template:
    # Polled every few seconds by each scanner: only what the counts need.
    user = _user(request)
    found = await services.program_by_slug((program or "")[:MAX_QUERY])
    if not await services.may_scan(user, found):
        raise DomainError(
            code="not_found", message=_("No program has this address."), status_code=404
        )
    sessions = await services.list_checkin_sessions(found["id"])
    chosen = _choose_session(found, sessions, (session or "")[:20] or None, datetime.now(UTC))
    context = {"program": found, **chosen, "counts": await _counts(found, chosen)}
    return Template(
        template_name="checkin/_counts.html",
        context=context,
        headers={"Cache-Control": "no-store", "Vary": "HX-Request"},
    )


@get("/scan/{slug:str}/bundle", guards=[requires(Role.SCANNER)], include_in_schema=False)
async def scan_bundle(request: Request[Any, Any, Any], slug: FromPath[str]) -> Response[Any]:
    bundle = await services.build_checkin_bundle(
        slug, user=_user(request), data_dir=_data_dir(request)
    )
    return Response(bundle, media_type=MediaType.JSON, headers={"Cache-Control": "no-store"})


@post(
    "/scan/{slug:str}/batch",
    guards=[requires(Role.SCANNER)],
    include_in_schema=False,
    status_code=HTTP_200_OK,
)
async def scan_batch(
    request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    scans = data.get("scans")
    if isinstance(scans, list):
        # Scans queued on this program's page name it; the URL fills in any that do not.
        scans = [{"program": slug, **s} if isinstance(s, dict) else s for s in scans]
    answers = await services.perform_checkin_batch(
        scans, scanner=_user(request), data_dir=_data_dir(request)
    )
    return Response(
        {"results": [a.as_dict() for a in answers]},
        media_type=MediaType.JSON,
        headers={"Cache-Control": "no-store"},
    )


def _service_worker_source() -> tuple[str, str]:
    """The worker script with the asset URLs it must keep for offline use written in."""
    assets = [static_url(path) for path in SCAN_ASSETS]
    assets += [static_url(DECODER_FILE), f"/static/{DECODER_WASM}"]
    body = (STATIC_DIR / "js" / "scan-sw.js").read_text(encoding="utf-8")
    version = hashlib.sha256(("|".join(assets) + body).encode()).hexdigest()[:12]
    header = (
        f"const YH_CACHE = {('yh-scan-' + version)!r};\nconst YH_ASSETS = {assets!r};\n"
    ).replace("'", '"')
    return header + body, version


@get("/scan/sw.js", include_in_schema=False, media_type="application/javascript")
async def scan_service_worker() -> Response[str]:
    source, _version = _service_worker_source()
    return Response(
        source,
        media_type="application/javascript",
        headers={"Service-Worker-Allowed": "/scan", "Cache-Control": "no-cache"},
    )


# --------------------------------------------------------------------------- staff pages


@get(
    "/manage/programs/{slug:str}/attendance",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def attendance_page(
    request: Request[Any, Any, Any], slug: FromPath[str], session: FromQuery[str | None] = None
) -> Template:
    user = _user(request)
    program = await services.get_managed_program(slug, user)
    session_id = int(session) if session and session.isdigit() and len(session) < 10 else None
    sheet = await services.build_attendance_sheet(program, session_id)
    await record_audit(
        user,
        "checkin.attendance_view",
        f"program:{slug}",
        {"session_id": sheet["session"]["id"] if sheet["session"] else None},
    )
    return page_or_fragment(
        request,
        "checkin/attendance.html",
        "checkin/_attendance_table.html",
        {"program": program, **sheet},
        private=True,
    )


@get(
    "/manage/programs/{slug:str}/attendance.csv",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def attendance_csv(
    request: Request[Any, Any, Any], slug: FromPath[str], session: FromQuery[str | None] = None
) -> Response[str]:
    user = _user(request)
    program = await services.get_managed_program(slug, user)
    session_id = int(session) if session and session.isdigit() and len(session) < 10 else None
    sheet = await services.build_attendance_sheet(program, session_id)
    await record_audit(
        user,
        "checkin.attendance_export",
        f"program:{slug}",
        {
            "session_id": sheet["session"]["id"] if sheet["session"] else None,
            "rows": len(sheet["rows"]),
        },
    )
    suffix = f"-{sheet['session']['id']}" if sheet["session"] else ""
    filename = f"attendance-{program['slug']}{suffix}.csv"
    return Response(
        # A byte-order mark so Excel reads the names (Javanese script, emoji) as UTF-8.
        services.render_attendance_csv(sheet, format_datetime),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def _scanners_page(
    request: Request[Any, Any, Any],
    program: dict[str, Any],
    *,
    email: str = "",
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = HTTP_200_OK,
) -> Template:
    context = {
        "program": program,
        "scanners": await services.list_scanners(program["id"]),
        "email": email,
        "errors": errors or {},
        "notice": notice,
    }
    return page_or_fragment(
        request,
        "checkin/scanners.html",
        "checkin/_scanners.html",
        context,
        status_code=status_code,
        private=True,
    )


@get(
    "/manage/programs/{slug:str}/scanners",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
)
async def scanners_page(
    request: Request[Any, Any, Any], slug: FromPath[str], added: FromQuery[str | None] = None
) -> Template:
    program = await services.get_managed_program(slug, _user(request))
    notice = _("The scanner was added.") if added else ""
    return await _scanners_page(request, program, notice=notice)


@post(
    "/manage/programs/{slug:str}/scanners",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
    status_code=HTTP_200_OK,
)
async def scanners_add(
    request: Request[Any, Any, Any], slug: FromPath[str], data: URLEncodedBody[dict[str, str]]
) -> Response[Any]:
    user = _user(request)
    program = await services.get_managed_program(slug, user)
    email = _form_text(data, "email", 300)
    try:
        staff, created = await services.assign_scanner(slug, email, by=user)
    except DomainError as exc:
        if exc.status_code >= 500:
            raise
        message = exc.errors[0].message if exc.errors else exc.message
        return await _scanners_page(
            request,
            program,
            email=email.strip(),
            errors={"email": message},
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if created:
        await record_audit(
            user, "checkin.assign_scanner", f"program:{slug}", {"scanner": staff["email"]}
        )
    if is_fragment_request(request):
        return await _scanners_page(request, program, notice=_("The scanner was added."))
    return _see_other(f"/manage/programs/{program['slug']}/scanners?added=1")


@post(
    "/manage/programs/{slug:str}/scanners/remove",
    guards=[requires(Role.ORGANISER)],
    include_in_schema=False,
    status_code=HTTP_200_OK,
)
async def scanners_remove(
    request: Request[Any, Any, Any], slug: FromPath[str], data: URLEncodedBody[dict[str, str]]
) -> Response[Any]:
    user = _user(request)
    program = await services.get_managed_program(slug, user)
    await services.unassign_scanner(slug, _form_text(data, "user_id", 20), by=user)
    await record_audit(
        user,
        "checkin.unassign_scanner",
        f"program:{slug}",
        {"user_id": _form_text(data, "user_id", 20)},
    )
    if is_fragment_request(request):
        return await _scanners_page(request, program, notice=_("The scanner was removed."))
    return _see_other(f"/manage/programs/{program['slug']}/scanners")


ROUTES: list[Any] = [
    api_checkin,
    api_checkin_batch,
    api_checkin_bundle,
    api_assign_scanner,
    scan_page,
    scan_offline_page,
    scan_checkin,
    scan_manual,
    scan_undo,
    scan_search,
    scan_counts,
    scan_service_worker,
    scan_bundle,
    scan_batch,
    attendance_page,
    attendance_csv,
    scanners_page,
    scanners_add,
    scanners_remove,
]
