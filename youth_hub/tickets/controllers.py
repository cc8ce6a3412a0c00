"""HTTP routes of the tickets domain (thin: parse, call a service, render).

Every answer about a ticket carries personal data or a bearer secret (the QR text): never
cached, never indexed, never kept in htmx's history.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER

from youth_hub.i18n import current_language
from youth_hub.i18n import gettext as _
from youth_hub.settings import Settings
from youth_hub.tickets.calendar import program_ics
from youth_hub.tickets.qr import qr_png, qr_svg
from youth_hub.tickets.services import (
    Ticket,
    cancel_ticket,
    load_ticket,
    schedule_groups,
    ticket_json,
    valid_code,
)
from youth_hub.web import DomainError, is_fragment_request, page_or_fragment

PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _ticket_or_404(
    request: Request[Any, Any, Any], code: str, *, with_checkins: bool = False
) -> Ticket:
    ticket = await load_ticket(
        code, data_dir=_settings(request).data_dir, with_checkins=with_checkins
    )
    if ticket is None:
        raise NotFoundException()
    return ticket


def _map_url(program: dict[str, Any]) -> str | None:
    lat, lon = program.get("latitude"), program.get("longitude")
    if lat is None or lon is None:
        return None
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=16/{lat:.6f}/{lon:.6f}"
    )


def _context(ticket: Ticket) -> dict[str, Any]:
    svg = None
    if ticket.qr_text is not None:
        svg = qr_svg(ticket.qr_text, label=_("QR code of your ticket"), css_class="qr")
    return {
        "ticket": ticket,
        "program": ticket.program,
        "groups": schedule_groups(ticket.program, ticket.sessions),
        "qr_svg": svg,
        "map_url": _map_url(ticket.program),
        "base": f"/tickets/{ticket.code}",
    }


def _ticket_page(request: Request[Any, Any, Any], ticket: Ticket, **headers: str) -> Template:
    return page_or_fragment(
        request,
        "tickets/ticket.html",
        "tickets/_ticket.html",
        _context(ticket),
        private=True,
        headers=headers or None,
    )


@get("/tickets/{code:str}", include_in_schema=False)
async def ticket_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Template:
    return _ticket_page(request, await _ticket_or_404(request, code))


@get("/tickets/{code:str}/cancel", include_in_schema=False)
async def cancel_confirm(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    """ "Are you sure?" — GET never changes anything (links in emails are followed by scanners)."""
    ticket = await _ticket_or_404(request, code)
    if ticket.status == "cancelled":
        return Redirect(
            path=f"/tickets/{ticket.code}", status_code=HTTP_303_SEE_OTHER, headers=PRIVATE_HEADERS
        )
    return page_or_fragment(
        request, "tickets/cancel.html", "tickets/_cancel.html", _context(ticket), private=True
    )


@post("/tickets/{code:str}/cancel", include_in_schema=False, status_code=HTTP_200_OK)
async def cancel_submit(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    ticket = await _ticket_or_404(request, code)
    if ticket.status != "cancelled":
        try:
            await cancel_ticket(ticket.code, base_url=_settings(request).base_url)
        except DomainError as exc:
            if exc.status_code != 409:  # already cancelled by a double tap: show the ticket
                raise
        ticket = await _ticket_or_404(request, code)
    if is_fragment_request(request):
        # htmx swaps the ticket in place; the address bar returns to the ticket itself.
        return _ticket_page(request, ticket, **{"HX-Replace-Url": f"/tickets/{ticket.code}"})
    return Redirect(
        path=f"/tickets/{ticket.code}", status_code=HTTP_303_SEE_OTHER, headers=PRIVATE_HEADERS
    )


@get("/tickets/{code:str}/qr.svg", include_in_schema=False)
async def ticket_qr_svg(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[str]:
    ticket = await _ticket_or_404(request, code)
    if ticket.qr_text is None:
        raise NotFoundException()
    svg = qr_svg(ticket.qr_text, label=_("QR code of your ticket"), css_class="")
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": f'inline; filename="ticket-{ticket.program["slug"]}.svg"',
        },
    )


@get("/tickets/{code:str}/qr.png", include_in_schema=False)
async def ticket_qr_png(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[bytes]:
    ticket = await _ticket_or_404(request, code)
    if ticket.qr_text is None:
        raise NotFoundException()
    return Response(
        qr_png(ticket.qr_text),
        media_type="image/png",
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": f'inline; filename="ticket-{ticket.program["slug"]}.png"',
        },
    )


@get("/tickets/{code:str}/event.ics", include_in_schema=False)
async def ticket_ics(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[bytes]:
    """Served for every status: a cancelled ticket's file cancels the events when re-imported."""
    ticket = await _ticket_or_404(request, code)
    settings = _settings(request)
    body = program_ics(
        ticket.program,
        ticket.sessions,
        f"{settings.base_url}/tickets/{ticket.code}",
        current_language(),
        status=ticket.status,
        changed_at=ticket.changed_at,
        timezone=settings.timezone,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": f'attachment; filename="{ticket.program["slug"]}.ics"',
        },
    )


@get("/api/v1/tickets/{code:str}", tags=["tickets"], summary="A ticket, for its holder")
async def api_ticket(
    request: Request[Any, Any, Any], code: FromPath[str]
) -> Response[dict[str, Any]]:
    """`qr` is null unless the ticket is confirmed; `checkins` is filled by the checkin domain
    through `youth_hub.tickets.register_checkins_provider`."""
    ticket = await _ticket_or_404(request, code, with_checkins=True)
    return Response(
        ticket_json(ticket, base_url=_settings(request).base_url), headers=PRIVATE_HEADERS
    )


@post(
    "/api/v1/tickets/{code:str}/cancel",
    tags=["tickets"],
    status_code=HTTP_200_OK,
    summary="Cancel a ticket; the first on the waiting list is promoted",
)
async def api_cancel(
    request: Request[Any, Any, Any], code: FromPath[str]
) -> Response[dict[str, Any]]:
    if not valid_code(code):
        raise NotFoundException()
    ticket = await _ticket_or_404(request, code)
    if ticket.status == "cancelled":
        raise DomainError("already_cancelled", _("This ticket is already cancelled."), 409)
    await cancel_ticket(ticket.code, base_url=_settings(request).base_url)
    return Response({"status": "cancelled"}, headers=PRIVATE_HEADERS)


ROUTES: list[Any] = [
    ticket_page,
    cancel_confirm,
    cancel_submit,
    ticket_qr_svg,
    ticket_qr_png,
    ticket_ics,
    api_ticket,
    api_cancel,
]
