"""The JSON API for programs (`/api/v1/programs`): thin, the rules are in services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from youth_hub.accounts import CurrentUser, Role, requires
from youth_hub.catalog import services
from youth_hub.catalog.constants import PER_PAGE_API
from youth_hub.web.errors import FieldError, ValidationFailed
from youth_hub.web.formats import display_timezone

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class SessionBody(msgspec.Struct, kw_only=True):
    """A session, or a stop of a tour's itinerary (with its `day`). `id` keeps an existing
    session (and its check-ins) when the list is sent back changed."""

    starts_at: str | None = None
    ends_at: str | None = None
    title: str = ""
    location: str = ""
    day: int | None = None
    checkin: bool = False
    id: int | None = None


# Optional in the schema so that a missing field gets our message naming it, not a generic one.
class ProgramCreateBody(msgspec.Struct, kw_only=True):
    kind: str | None = None
    title: str | None = None
    summary: str = ""
    description: str = ""
    topics: list[str] = msgspec.field(default_factory=list)
    venue: str = ""
    kecamatan: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    capacity: int | None = None
    waitlist_limit: int | None = None
    price_idr: int = 0
    age_min: int = 16
    age_max: int = 30
    registration_opens_at: str | None = None
    registration_closes_at: str | None = None
    sessions: list[SessionBody] = msgspec.field(default_factory=list)
    publish: bool = False


class ProgramPatchBody(msgspec.Struct, kw_only=True):
    """Only the fields sent change; `null` clears an optional one."""

    kind: str | Unset = UNSET
    title: str | Unset = UNSET
    summary: str | Unset = UNSET
    description: str | Unset = UNSET
    topics: list[str] | Unset = UNSET
    venue: str | Unset = UNSET
    kecamatan: str | Unset = UNSET
    latitude: float | Unset | None = UNSET
    longitude: float | Unset | None = UNSET
    capacity: int | Unset = UNSET
    waitlist_limit: int | Unset | None = UNSET
    price_idr: int | Unset = UNSET
    age_min: int | Unset = UNSET
    age_max: int | Unset = UNSET
    registration_opens_at: str | Unset | None = UNSET
    registration_closes_at: str | Unset | None = UNSET
    sessions: list[SessionBody] | Unset = UNSET
    status: str | Unset = UNSET


class ProgramCreated(msgspec.Struct):
    id: int
    slug: str
    status: str


def _as_data(body: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in body.__struct_fields__:
        value = getattr(body, name)
        if value is UNSET:
            continue
        if name == "sessions":
            value = [msgspec.structs.asdict(s) for s in value]
        data[name] = value
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def program_summary_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "slug": row["slug"],
        "kind": row["kind"],
        "title": row["title"],
        "summary": row["summary"],
        "topics": row["topics"],
        "venue": row["venue"],
        "kecamatan": row["kecamatan"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "capacity": row["capacity"],
        "seats_left": row["seats_left"],
        "waitlist_limit": row["waitlist_limit"],
        "price_idr": row["price_idr"],
        "age_min": row["age_min"],
        "age_max": row["age_max"],
        "registration_opens_at": _iso(row["registration_opens_at"]),
        "registration_closes_at": _iso(row["registration_closes_at"]),
        "status": row["status"],
        "starts_at": _iso(row["first_starts_at"]),
        "ends_at": _iso(row["last_ends_at"]),
        "organiser": row["organiser_name"],
        "url": f"/programs/{row['slug']}",
    }


def _session_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "starts_at": _iso(row["starts_at"]),
        "ends_at": _iso(row["ends_at"]),
        "location": row["location"],
        "day": row["day"],
        "checkin": row["checkin"],
    }


def program_detail_json(detail: dict[str, Any]) -> dict[str, Any]:
    body = program_summary_json(detail)
    body["description"] = detail["description"]
    body["sessions"] = [_session_json(s) for s in detail["sessions"]]
    if detail["kind"] == "tour":
        body["itinerary"] = [
            {
                "day": day["day"],
                "date": day["date"].astimezone(display_timezone()).date().isoformat(),
                "stops": [_session_json(s) for s in day["stops"]],
            }
            for day in services.group_by_day(detail["sessions"])
        ]
    return body


class ProgramApiController(Controller):
    path = "/api/v1/programs"
    tags = ["programs"]  # noqa: RUF012 (Litestar reads it as the controller's tags)

    @get("/")
    async def list_programs(
        self,
        kind: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        topic: FromQuery[str | None] = None,
        kecamatan: FromQuery[str | None] = None,
        month: FromQuery[str | None] = None,
        free: FromQuery[str | None] = None,
        seats: FromQuery[str | None] = None,
        page: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Published programs not yet over, soonest first; the same filters as /programs."""
        filters, raw = services.parse_filters(
            kind, q, topic, kecamatan, month, free, page, seats=seats
        )
        if raw.errors:
            errors = [FieldError(name, message) for name, message in raw.errors.items()]
            raise ValidationFailed(errors, message=errors[0].message)
        found = await services.list_published(filters, per_page=PER_PAGE_API)
        return {**found, "items": [program_summary_json(r) for r in found["items"]]}

    @get("/{slug:str}")
    async def get_program(
        self, request: Request[Any, Any, Any], slug: FromPath[str]
    ) -> dict[str, Any]:
        """One program with its sessions (tours: also the itinerary by day) and seats left;
        a draft only for those who may manage it."""
        detail = await services.get_program_detail(slug, _user(request))
        if detail is None:
            raise services.program_not_found()
        return program_detail_json(detail)

    @post("/", guards=[requires(Role.ORGANISER)], status_code=HTTP_201_CREATED)
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[ProgramCreateBody]
    ) -> ProgramCreated:
        """Organisers create workshops and sport programs; dinporapar and admin any kind."""
        created = await services.create_program(_user(request), _as_data(data))
        return ProgramCreated(**created)

    @patch("/{slug:str}", guards=[requires(Role.ORGANISER)])
    async def change(
        self, request: Request[Any, Any, Any], slug: FromPath[str], data: JSONBody[ProgramPatchBody]
    ) -> ProgramCreated:
        """Its organiser, dinporapar or admin: the fields sent, sessions included; `status`
        `published` or `cancelled`."""
        changed = await services.update_program(_user(request), slug, _as_data(data))
        return ProgramCreated(**changed)


def _user(request: Request[Any, Any, Any]) -> CurrentUser | None:
    user = request.scope.get("user")
    return user if isinstance(user, CurrentUser) else None
