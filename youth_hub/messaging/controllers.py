"""HTTP routes of the messaging domain (thin: parse, call a service, render).

/manage/outbox: what the outbox holds, for staff. Dinporapar and admins see every message;
an organiser sees the messages of their own programs and their own digests.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from youth_hub.accounts import CurrentUser, Role, record_audit, requires
from youth_hub.i18n import gettext as _
from youth_hub.messaging.outbox import KINDS
from youth_hub.messaging.services import (
    STATES,
    list_outbox,
    outbox_message,
    preview_message,
    retry_message,
)
from youth_hub.web import FieldError, page_or_fragment

PER_PAGE = 50
MAX_PAGE = 10_000
MAX_ID = 2**31 - 1  # larger ids exist nowhere (and would overflow PostgreSQL's integer)


def _user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = request.scope.get("user")
    assert isinstance(user, CurrentUser)  # the guard let only staff in
    return user


def _client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def state_labels() -> dict[str, str]:
    return {
        "pending": _("Waiting"),
        "sending": _("Sending"),
        "sent": _("Sent"),
        "failed": _("Failed"),
        "dropped": _("Not sent"),
    }


def kind_labels() -> dict[str, str]:
    return {
        "confirmation": _("Confirmation"),
        "waitlisted": _("Waiting list"),
        "promoted": _("Promoted"),
        "cancelled": _("Cancelled"),
        "reminder": _("Reminder"),
        "changed": _("Schedule changed"),
        "program_cancelled": _("Program cancelled"),
        "my_tickets": _("My tickets link"),
        "certificate": _("Certificate"),
        "feedback": _("Feedback"),
        "digest": _("Daily digest"),
    }


class OutboxController(Controller):
    path = "/manage/outbox"
    guards = [requires(Role.ORGANISER)]  # noqa: RUF012 - Litestar reads it as a class attribute
    include_in_schema = False

    @get("/", name="outbox")
    async def outbox(
        self,
        request: Request[Any, Any, Any],
        # `state` is a name Litestar reserves for the app state: the query key is mapped.
        state_filter: Annotated[str | None, QueryParameter(name="state")] = None,
        kind: FromQuery[str | None] = None,
        page: FromQuery[str | None] = None,
    ) -> Template:
        user = _user(request)
        settings = request.app.state.settings
        errors: list[FieldError] = []
        state = (state_filter or "").strip()
        kind = (kind or "").strip()
        if state and state not in STATES:
            errors.append(FieldError("state", _("State: choose one from the list.")))
        if kind and kind not in KINDS:
            errors.append(FieldError("kind", _("Kind: choose one from the list.")))
        page_number = 1
        if page:
            if page.isdigit() and 1 <= int(page) <= MAX_PAGE:
                page_number = int(page)
            else:
                errors.append(FieldError("page", _("Page: give a whole number from 1.")))
        context: dict[str, Any] = {
            "state": state,
            "kind": kind,
            "page": page_number,
            "states": state_labels(),
            "kinds": kind_labels(),
            "smtp_configured": bool(settings.smtp_url),
            "errors": {e.field: e.message for e in errors},
            "rows": [],
            "counts": {},
            "has_next": False,
        }
        if errors:
            return page_or_fragment(
                request,
                "messaging/outbox.html",
                "messaging/_outbox_list.html",
                context,
                status_code=422,
                private=True,
            )
        rows, counts = await list_outbox(
            user,
            state=state or None,
            kind=kind or None,
            limit=PER_PAGE + 1,
            offset=(page_number - 1) * PER_PAGE,
        )
        context.update(rows=rows[:PER_PAGE], counts=counts, has_next=len(rows) > PER_PAGE)
        await record_audit(
            user,
            "outbox.list",
            f"state={state or 'all'} kind={kind or 'all'}",
            {"page": page_number, "shown": len(context["rows"])},
            ip=_client_ip(request),
        )
        return page_or_fragment(
            request, "messaging/outbox.html", "messaging/_outbox_list.html", context, private=True
        )

    @get("/{message_id:int}", name="outbox_message")
    async def message(self, request: Request[Any, Any, Any], message_id: FromPath[int]) -> Template:
        user = _user(request)
        row = await outbox_message(user, message_id) if 0 < message_id <= MAX_ID else None
        if row is None:
            raise NotFoundException()
        settings = request.app.state.settings
        preview = await preview_message(row, settings)
        await record_audit(
            user,
            "outbox.view",
            f"outbox:{message_id}",
            {"kind": row["kind"], "to": row["to_email"]},
            ip=_client_ip(request),
        )
        return page_or_fragment(
            request,
            "messaging/message.html",
            "messaging/_message.html",
            {
                "row": row,
                "preview": preview,
                "states": state_labels(),
                "kinds": kind_labels(),
                "smtp_configured": bool(settings.smtp_url),
            },
            private=True,
        )

    @post("/{message_id:int}/retry", name="outbox_retry")
    async def retry(self, request: Request[Any, Any, Any], message_id: FromPath[int]) -> Redirect:
        user = _user(request)
        row = await outbox_message(user, message_id) if 0 < message_id <= MAX_ID else None
        if row is None:
            raise NotFoundException()
        if await retry_message(message_id):
            await record_audit(user, "outbox.retry", f"outbox:{message_id}", ip=_client_ip(request))
        return Redirect(path=f"/manage/outbox/{message_id}", status_code=303)


ROUTES: list[Any] = [OutboxController]
