"""HTTP routes of the accounts domain (thin: parse, call a service, render)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_303_SEE_OTHER,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
)

from youth_hub.accounts import services
from youth_hub.accounts.audit import record_audit
from youth_hub.accounts.identity import CurrentUser, optional_user, requires
from youth_hub.accounts.roles import Role
from youth_hub.accounts.sessions import end_session, start_session
from youth_hub.accounts.throttle import LoginThrottle
from youth_hub.i18n import gettext as _
from youth_hub.web import DomainError, ValidationFailed, is_fragment_request, page_or_fragment
from youth_hub.web.errors import FieldError

THROTTLE_STORE = "login_throttle"
MAX_NEXT_LENGTH = 500
MAX_AUDIT_PAGE = 100_000


def _role_labels() -> list[tuple[str, str]]:
    return [
        (Role.ADMIN.value, _("Admin")),
        (Role.DINPORAPAR.value, _("Dinporapar staff")),
        (Role.ORGANISER.value, _("Organiser")),
        (Role.SCANNER.value, _("Scanner")),
    ]


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site, else None: sign-in never redirects elsewhere."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return None
    # "//host", "/\\host" and control characters (browsers drop tabs) all lead off-site.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/login", "/logout")):
        return None
    return value


def home_for(user: CurrentUser) -> str:
    return "/scan" if user.role == Role.SCANNER else "/manage"


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def _see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


# --- Sign-in and sign-out ----------------------------------------------------------------------


def _login_form(
    request: Request[Any, Any, Any],
    *,
    email: str = "",
    next_path: str | None = None,
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = HTTP_200_OK,
    headers: dict[str, str] | None = None,
) -> Template:
    context = {"email": email, "next": next_path or "", "errors": errors or {}, "alert": alert}
    return page_or_fragment(
        request,
        "accounts/login.html",
        "accounts/_login_form.html",
        context,
        status_code=status_code,
        headers=headers,
        private=True,
    )


@get("/login", name="login", include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], next: FromQuery[str | None] = None
) -> Response[Any]:
    target = safe_next(next)
    user = optional_user(request)
    if user is not None:
        return _see_other(target or home_for(user))
    return _login_form(request, next_path=target)


@post("/login", opt={"rate_limit": "login"}, include_in_schema=False)
async def login(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Response[Any]:
    email = data.get("email", "")[:300]
    password = data.get("password", "")
    target = safe_next(data.get("next"))
    try:
        email = services.validate_sign_in(email, password)
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors}
        return _login_form(
            request,
            email=email.strip(),
            next_path=target,
            errors=errors,
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    throttle = LoginThrottle(request.app.stores.get(THROTTLE_STORE))
    attempt = await throttle.begin(email, client_address(request))
    if not attempt.allowed:
        minutes = max(1, (attempt.retry_after + 59) // 60)
        return _login_form(
            request,
            email=email,
            next_path=target,
            alert=_(
                "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again.",
                minutes=minutes,
            ),
            status_code=HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(attempt.retry_after)},
        )
    user = await services.authenticate(email, password)
    if user is None:
        # One answer for an unknown account and a wrong password: nothing tells them apart.
        return _login_form(
            request,
            email=email,
            next_path=target,
            alert=_("The email or password is not correct."),
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        )
    await throttle.succeeded(attempt)
    start_session(request, user.id)
    await record_audit(user, "auth.sign_in", user.email, ip=client_address(request))
    destination = target or home_for(user)
    if is_fragment_request(request):
        return Response(content="", status_code=HTTP_200_OK, headers={"HX-Redirect": destination})
    return _see_other(destination)


@post("/logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    end_session(request)
    if is_fragment_request(request):
        return Response(content="", status_code=HTTP_200_OK, headers={"HX-Redirect": "/"})
    return _see_other("/")


# --- JSON API ----------------------------------------------------------------------------------


@get("/api/v1/me", tags=["accounts"], summary="The staff member the Bearer token belongs to")
async def me(request: Request[Any, Any, Any]) -> dict[str, str]:
    user = optional_user(request)
    if user is None:
        raise NotAuthorizedException(headers={"WWW-Authenticate": "Bearer"})
    return {"email": user.email, "name": user.name, "role": user.role.value}


# --- Administration ----------------------------------------------------------------------------


def _actor(request: Request[Any, Any, Any]) -> CurrentUser:
    user = optional_user(request)
    if user is None:  # the guard has run; this is for the type checker and for safety
        raise NotAuthorizedException()
    return user


class StaffController(Controller):
    path = "/manage/staff"
    guards = [requires(Role.ADMIN)]  # noqa: RUF012 (Litestar reads a plain class attribute)
    include_in_schema = False

    async def _list_page(
        self,
        request: Request[Any, Any, Any],
        *,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        alert: str = "",
        status_code: int = HTTP_200_OK,
    ) -> Template:
        context = {
            "staff": await services.list_staff(),
            "roles": _role_labels(),
            "form": form or {"email": "", "name": "", "role": Role.ORGANISER.value},
            "errors": errors or {},
            "alert": alert,
        }
        return page_or_fragment(
            request,
            "accounts/staff.html",
            "accounts/_staff_list.html",
            context,
            status_code=status_code,
            private=True,
        )

    @get("/")
    async def staff_list(self, request: Request[Any, Any, Any]) -> Template:
        return await self._list_page(request)

    @post("/")
    async def staff_add(
        self, request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
    ) -> Template:
        form = {
            "email": data.get("email", "")[:300],
            "name": data.get("name", "")[:300],
            "role": data.get("role", ""),
        }
        try:
            row, password = await services.add_staff_user(
                _actor(request),
                email=form["email"],
                role=form["role"],
                name=form["name"],
                ip=client_address(request),
            )
        except DomainError as exc:
            errors = {e.field: e.message for e in exc.errors}
            if exc.code == "email_taken":
                errors["email"] = exc.message
            return await self._list_page(
                request, form=form, errors=errors, alert=exc.message, status_code=exc.status_code
            )
        return Template(
            template_name="accounts/staff_created.html",
            context={"member": row, "password": password, "roles": dict(_role_labels())},
            status_code=HTTP_201_CREATED,
            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        )

    async def _detail_page(
        self,
        request: Request[Any, Any, Any],
        user_id: int,
        *,
        alert: str = "",
        notice: str = "",
        status_code: int = HTTP_200_OK,
    ) -> Template:
        member = await services.get_staff(user_id)
        context = {
            "member": member,
            "tokens": await services.list_api_tokens(user_id),
            "roles": _role_labels(),
            "is_self": member["id"] == _actor(request).id,
            "alert": alert,
            "notice": notice,
        }
        return page_or_fragment(
            request,
            "accounts/staff_detail.html",
            "accounts/_staff_detail.html",
            context,
            status_code=status_code,
            private=True,
        )

    @get("/{user_id:int}")
    async def staff_detail(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[int],
        done: FromQuery[str | None] = None,
    ) -> Template:
        notices = {
            "role": _("The role was changed."),
            "deactivated": _(
                "The account was deactivated. Its sessions and tokens no longer work."
            ),
            "reactivated": _("The account was reactivated."),
            "revoked": _("The token was revoked."),
        }
        return await self._detail_page(request, user_id, notice=notices.get(done or "", ""))

    async def _act(
        self, request: Request[Any, Any, Any], user_id: int, work: Awaitable[bool], done: str
    ) -> Response[Any]:
        try:
            await work
        except DomainError as exc:
            if exc.code == "no_such_staff":
                raise
            return await self._detail_page(
                request, user_id, alert=exc.message, status_code=exc.status_code
            )
        return _see_other(f"/manage/staff/{user_id}?done={done}")

    @post("/{user_id:int}/role")
    async def staff_role(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        work = services.change_role(
            _actor(request), user_id, data.get("role", ""), ip=client_address(request)
        )
        return await self._act(request, user_id, work, "role")

    @post("/{user_id:int}/deactivate")
    async def staff_deactivate(
        self, request: Request[Any, Any, Any], user_id: FromPath[int]
    ) -> Response[Any]:
        work = services.set_staff_active(
            _actor(request), user_id, False, ip=client_address(request)
        )
        return await self._act(request, user_id, work, "deactivated")

    @post("/{user_id:int}/reactivate")
    async def staff_reactivate(
        self, request: Request[Any, Any, Any], user_id: FromPath[int]
    ) -> Response[Any]:
        work = services.set_staff_active(_actor(request), user_id, True, ip=client_address(request))
        return await self._act(request, user_id, work, "reactivated")

    @post("/{user_id:int}/tokens")
    async def token_issue(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Response[Any]:
        label = data.get("label", "")[:300]
        try:
            token = await services.issue_api_token(
                _actor(request), user_id, label, ip=client_address(request)
            )
        except DomainError as exc:
            if exc.code == "no_such_staff":
                raise
            return await self._detail_page(
                request, user_id, alert=exc.message, status_code=exc.status_code
            )
        return Template(
            template_name="accounts/token_created.html",
            context={"member": await services.get_staff(user_id), "token": token, "label": label},
            status_code=HTTP_201_CREATED,
            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        )

    @post("/{user_id:int}/tokens/{token_id:int}/revoke")
    async def token_revoke(
        self, request: Request[Any, Any, Any], user_id: FromPath[int], token_id: FromPath[int]
    ) -> Response[Any]:
        work = services.revoke_api_token(
            _actor(request), user_id, token_id, ip=client_address(request)
        )
        return await self._act(request, user_id, work, "revoked")


def _audit_page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_AUDIT_PAGE:
        message = _("The page number must be a whole number from 1.")
        raise ValidationFailed([FieldError("page", message)], message=message)
    return int(raw)


@get("/manage/audit", guards=[requires(Role.ADMIN)], include_in_schema=False)
async def audit_log(
    request: Request[Any, Any, Any],
    action: FromQuery[str | None] = None,
    page: FromQuery[str | None] = None,
) -> Template:
    number = _audit_page_number(page)
    action = (action or "").strip()
    if len(action) > 60:
        message = _("The action filter is too long.")
        raise ValidationFailed([FieldError("action", message)], message=message)
    entries, total = await services.list_audit(action or None, number)
    per_page = services.AUDIT_PER_PAGE
    context = {
        "entries": entries,
        "total": total,
        "page": number,
        "pages": max(1, (total + per_page - 1) // per_page),
        "action": action,
        "actions": await services.audit_actions(),
    }
    return page_or_fragment(
        request, "accounts/audit.html", "accounts/_audit_results.html", context, private=True
    )


ROUTES: list[Any] = [login_page, login, logout, me, StaffController, audit_log]
