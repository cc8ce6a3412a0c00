"""Domain errors and the one place that turns any error into a page, a fragment or JSON."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from youth_hub.i18n import gettext
from youth_hub.web.htmx import is_fragment_request

log = logging.getLogger("youth_hub")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class DomainError(Exception):
    """A rule said no. `code` is stable (tests and clients match it); `message` is for people,
    already in the user's language; `status_code` is the HTTP answer."""

    code: str
    message: str
    status_code: int = HTTP_400_BAD_REQUEST
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def as_json(self) -> dict[str, Any]:
        return {
            "detail": self.message,
            "code": self.code,
            "errors": [e.as_dict() for e in self.errors],
            **self.extra,
        }


class ValidationFailed(DomainError):
    """Bad input: a message per field, 422."""

    def __init__(self, errors: list[FieldError], message: str | None = None) -> None:
        super().__init__(
            code="invalid",
            message=message or gettext("Some fields need attention."),
            status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            errors=errors,
        )


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def _json(
    status: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Any]:
    return Response(
        {"detail": detail, "errors": errors or [], **extra},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _page(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Template:
    template = "errors/_error.html" if is_fragment_request(request) else "errors/error.html"
    return Template(
        template_name=template,
        context={"status": status, "title": title, "message": message},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if _wants_json(request):
        return Response(exc.as_json(), status_code=exc.status_code, media_type=MediaType.JSON)
    return _page(request, exc.status_code, exc.message, exc.message)


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                {
                    "field": str(item.get("key") or item.get("source") or "body"),
                    "message": gettext("This value is not valid."),
                }
            )
    return errors


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException) or (status == HTTP_400_BAD_REQUEST and not exc.extra):
        detail = gettext("The request body is not valid.")
        if isinstance(exc, ValidationException):
            errors = _validation_errors(exc)
            if _wants_json(request):
                return _json(HTTP_400_BAD_REQUEST, detail, errors)
        if _wants_json(request):
            return _json(HTTP_400_BAD_REQUEST, detail)
        return _page(request, HTTP_400_BAD_REQUEST, detail, detail)
    if status == HTTP_403_FORBIDDEN and "csrf" in str(exc.detail).lower():
        title = message = gettext(
            "The form has expired or was sent from elsewhere. Reload the page and try again."
        )
    elif isinstance(exc, NotAuthorizedException) or status == HTTP_401_UNAUTHORIZED:
        if not _wants_json(request) and request.method == "GET":
            return Redirect(path="/login", query_params={"next": request.url.path})
        title = message = gettext("Please sign in.")
    elif isinstance(exc, PermissionDeniedException) or status == HTTP_403_FORBIDDEN:
        title, message = gettext("Not allowed"), gettext("Your account may not do this.")
    elif isinstance(exc, NotFoundException) or status == HTTP_404_NOT_FOUND:
        title = gettext("Page not found")
        message = gettext("The page you asked for does not exist or has moved.")
    elif isinstance(exc, TooManyRequestsException) or status == HTTP_429_TOO_MANY_REQUESTS:
        title = message = gettext("Too many requests. Please wait a minute and try again.")
    elif status == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        title = message = gettext("The request is too large.")
    elif status == HTTP_503_SERVICE_UNAVAILABLE:
        title = message = gettext("The service is busy. Please try again in a moment.")
        headers.setdefault("Retry-After", "5")
    elif status >= HTTP_500_INTERNAL_SERVER_ERROR:
        title = gettext("Something went wrong")
        message = gettext("We could not finish your request. Please try again in a moment.")
    else:
        title = message = str(exc.detail)
    if _wants_json(request):
        return _json(status, message, headers=headers)
    return _page(request, status, title, message, headers=headers)


def _is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc) or "unable to open" in str(exc)
    name = type(exc).__name__
    module = type(exc).__module__
    return (
        module.startswith("asyncpg")
        and ("Connection" in name or "CannotConnectNow" in name or "TooManyConnections" in name)
    ) or isinstance(exc, (ConnectionRefusedError, ConnectionResetError))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Never a traceback for the user: 503 with Retry-After when the database is away, else 500."""
    if _is_database_unavailable(exc):
        log.warning("database unavailable: %s", exc)
        status = HTTP_503_SERVICE_UNAVAILABLE
        title = message = gettext("The service is busy. Please try again in a moment.")
        headers = {"Retry-After": "5"}
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        status = HTTP_500_INTERNAL_SERVER_ERROR
        title = gettext("Something went wrong")
        message = gettext("We could not finish your request. Please try again in a moment.")
        headers = {}
    if _wants_json(request):
        return _json(status, message, headers=headers)
    return _page(request, status, title, message, headers=headers)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
