"""The programs JSON API: shapes from INTERFACE.md, roles, bad input as 400/422 with fields."""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog.helpers import program_body, staff_with_token, tour_body
from tests.factories import make_program
from youth_hub.catalog.tables import Program, ProgramSession

HOSTILE = "<script>alert(1)</script> {{7*7}} =SUM(A1) ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉"


async def test_list_shape_and_filters(client: Any) -> None:
    await make_program(title="Kelas Coding", kind="workshop", topics=("coding",))
    await make_program(title="Wisata Owabong", kind="tour", price_idr=150000)
    await make_program(title="Draf", status="draft")
    response = await client.get("/api/v1/programs")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "page", "per_page"}
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 20)
    item = body["items"][0]
    assert item["title"] == "Kelas Coding" and item["topics"] == ["coding"]
    assert item["seats_left"] == 20 and item["kind"] == "workshop"
    assert {"slug", "price_idr", "kecamatan", "starts_at", "age_min", "age_max"} <= set(item)
    tours = (await client.get("/api/v1/programs", params={"kind": "tour"})).json()
    assert [p["title"] for p in tours["items"]] == ["Wisata Owabong"]
    free = (await client.get("/api/v1/programs", params={"free": "1"})).json()
    assert [p["title"] for p in free["items"]] == ["Kelas Coding"]


async def test_bad_filters_are_422_with_fields(client: Any) -> None:
    response = await client.get(
        "/api/v1/programs", params={"kind": "concert", "month": "2026-13", "page": "-1"}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"kind", "month", "page"}


async def test_detail_with_sessions_and_seats_left(client: Any) -> None:
    program = await make_program(title="Futsal", kind="sport", sessions=3, capacity=10)
    await Program.update({Program.seats_taken: 4}).where(Program.id == program["id"]).run()
    response = await client.get(f"/api/v1/programs/{program['slug']}")
    assert response.status_code == 200
    body = response.json()
    assert body["seats_left"] == 6 and len(body["sessions"]) == 3
    assert set(body["sessions"][0]) == {
        "id",
        "title",
        "starts_at",
        "ends_at",
        "location",
        "day",
        "checkin",
    }
    assert (await client.get("/api/v1/programs/no-such-program")).status_code == 404


async def test_tour_detail_has_the_itinerary_by_day(client: Any) -> None:
    _, office = await staff_with_token("dinporapar")
    created = (
        await client.post("/api/v1/programs", json=tour_body(publish=True), headers=office)
    ).json()
    body = (await client.get(f"/api/v1/programs/{created['slug']}")).json()
    assert [d["day"] for d in body["itinerary"]] == [1, 2]
    assert [s["title"] for s in body["itinerary"][0]["stops"]] == ["Berkumpul", "Owabong"]


async def test_draft_is_404_except_for_who_may_edit_it(client: Any) -> None:
    owner, owner_auth = await staff_with_token("organiser")
    _, other_auth = await staff_with_token("organiser")
    _, office_auth = await staff_with_token("dinporapar")
    draft = await make_program(title="Draf", status="draft", organiser=owner)
    path = f"/api/v1/programs/{draft['slug']}"
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers=other_auth)).status_code == 404
    assert (await client.get(path, headers=owner_auth)).status_code == 200
    assert (await client.get(path, headers=office_auth)).status_code == 200


async def test_create_as_organiser(client: Any) -> None:
    owner, auth = await staff_with_token("organiser")
    response = await client.post("/api/v1/programs", json=program_body(publish=True), headers=auth)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "slug", "status"} and body["status"] == "published"
    row = await Program.select().where(Program.id == body["id"]).first().run()
    assert row["organiser"] == owner["id"]


@pytest.mark.parametrize(
    "role,status", [("scanner", 403), ("organiser", 403), ("dinporapar", 201), ("admin", 201)]
)
async def test_who_may_create_a_tour(client: Any, role: str, status: int) -> None:
    _, auth = await staff_with_token(role)
    response = await client.post("/api/v1/programs", json=tour_body(), headers=auth)
    assert response.status_code == status, response.text
    assert await Program.count().run() == (1 if status == 201 else 0)


async def test_anonymous_is_401_and_scanner_403(client: Any) -> None:
    anonymous = await client.post("/api/v1/programs", json=program_body())
    assert anonymous.status_code == 401 and anonymous.json()["detail"]
    _, scanner = await staff_with_token("scanner")
    assert (
        await client.post("/api/v1/programs", json=program_body(), headers=scanner)
    ).status_code == 403
    bogus = {"Authorization": "Bearer yh_not-a-token"}
    assert (
        await client.post("/api/v1/programs", json=program_body(), headers=bogus)
    ).status_code == 401
    program = await make_program()
    assert (
        await client.patch(f"/api/v1/programs/{program['slug']}", json={"title": "x"})
    ).status_code == 401
    assert await Program.count().run() == 1


async def test_validation_errors_name_each_field_in_the_users_language(client: Any) -> None:
    _, auth = await staff_with_token("organiser")
    body = program_body(title="", capacity=0, kecamatan="Bandung", age_min=40, age_max=20)
    response = await client.post("/api/v1/programs", json=body, headers=auth)
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors["title"] == "Judul wajib diisi."
    assert {"capacity", "kecamatan", "age_max"} <= set(errors)
    english = await client.post("/api/v1/programs?lang=en", json=body, headers=auth)
    assert {e["field"]: e["message"] for e in english.json()["errors"]}["title"] == (
        "Title is required."
    )
    assert await Program.count().run() == 0


@pytest.mark.parametrize(
    "patch",
    [
        {"capacity": "twenty"},
        {"capacity": 10**30},
        {"price_idr": 1.5},
        {"topics": "coding"},
        {"sessions": [{"starts_at": 12}]},
        {"sessions": "monday"},
        {"publish": "yes"},
        {"latitude": "north"},
    ],
)
async def test_wrong_types_are_400_with_the_field(client: Any, patch: dict[str, Any]) -> None:
    _, auth = await staff_with_token("organiser")
    response = await client.post("/api/v1/programs", json=program_body(**patch), headers=auth)
    assert response.status_code in (400, 422), response.text
    body = response.json()
    assert body["detail"] and body["errors"]
    field = next(iter(patch))
    assert any(e["field"].startswith(field) for e in body["errors"]), body
    assert await Program.count().run() == 0


async def test_garbage_bodies_never_500(client: Any) -> None:
    _, auth = await staff_with_token("organiser")
    for content in (
        b"",
        b"{",
        b"[]",
        b"null",
        b'"text"',
        b'{"title": "\\ud800"}',
        '{"title": "a\u0000b"}'.encode(),
    ):
        response = await client.post(
            "/api/v1/programs",
            content=content,
            headers={**auth, "content-type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (content, response.status_code)
    huge = program_body(description="x" * 300_000)
    response = await client.post("/api/v1/programs", json=huge, headers=auth)
    assert response.status_code == 413
    long = program_body(description="x" * 20_001)
    response = await client.post("/api/v1/programs", json=long, headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "description"
    assert await Program.count().run() == 0


async def test_hostile_text_is_stored_as_written(client: Any) -> None:
    _, auth = await staff_with_token("organiser")
    created = (
        await client.post(
            "/api/v1/programs",
            json=program_body(title=HOSTILE, summary=HOSTILE, publish=True),
            headers=auth,
        )
    ).json()
    body = (await client.get(f"/api/v1/programs/{created['slug']}")).json()
    assert body["title"] == HOSTILE and body["summary"] == HOSTILE


async def test_patch_by_owner_ignores_unknown_fields(client: Any) -> None:
    owner, auth = await staff_with_token("organiser")
    intruder, _ = await staff_with_token("organiser")
    created = (await client.post("/api/v1/programs", json=program_body(), headers=auth)).json()
    response = await client.patch(
        f"/api/v1/programs/{created['slug']}",
        headers=auth,
        json={
            "title": "Kelas Coding Lanjutan",
            "organiser": intruder["id"],
            "organiser_id": 5,
            "seats_taken": 99,
            "status": "published",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "slug": created["slug"], "status": "published"}
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["title"] == "Kelas Coding Lanjutan" and row["organiser"] == owner["id"]
    assert row["seats_taken"] == 0


async def test_patch_null_clears_an_optional_field(client: Any) -> None:
    _, auth = await staff_with_token("organiser")
    created = (
        await client.post(
            "/api/v1/programs",
            json=program_body(waitlist_limit=5, latitude=-7.39, longitude=109.36),
            headers=auth,
        )
    ).json()
    response = await client.patch(
        f"/api/v1/programs/{created['slug']}",
        headers=auth,
        json={"waitlist_limit": None, "latitude": None, "longitude": None},
    )
    assert response.status_code == 200
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["waitlist_limit"] is None and row["latitude"] is None


async def test_another_organiser_cannot_change_it(client: Any) -> None:
    _, owner_auth = await staff_with_token("organiser")
    _, other_auth = await staff_with_token("organiser")
    draft = (
        await client.post("/api/v1/programs", json=program_body(title="Draf"), headers=owner_auth)
    ).json()
    public = (
        await client.post(
            "/api/v1/programs", json=program_body(title="Terbit", publish=True), headers=owner_auth
        )
    ).json()
    for created in (draft, public):
        response = await client.patch(
            f"/api/v1/programs/{created['slug']}",
            headers=other_auth,
            json={"title": "Dibajak", "status": "cancelled", "sessions": []},
        )
        assert response.status_code in (403, 404)
    rows = await Program.select(Program.title, Program.status).order_by(Program.id).run()
    assert rows == [
        {"title": "Draf", "status": "draft"},
        {"title": "Terbit", "status": "published"},
    ]
    assert await ProgramSession.count().run() == 2


async def test_office_publishes_and_cancels_any(client: Any) -> None:
    _, owner_auth = await staff_with_token("organiser")
    _, office = await staff_with_token("dinporapar")
    created = (
        await client.post("/api/v1/programs", json=program_body(), headers=owner_auth)
    ).json()
    path = f"/api/v1/programs/{created['slug']}"
    assert (await client.patch(path, json={"status": "published"}, headers=office)).json()[
        "status"
    ] == "published"
    assert (await client.get(path)).status_code == 200
    assert (await client.patch(path, json={"status": "cancelled"}, headers=office)).json()[
        "status"
    ] == "cancelled"
    again = await client.patch(path, json={"status": "published"}, headers=office)
    assert again.status_code == 409
    bad = await client.patch(path, json={"status": "deleted"}, headers=office)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


async def test_patch_sessions_replace_them(client: Any) -> None:
    _, auth = await staff_with_token("organiser")
    created = (await client.post("/api/v1/programs", json=program_body(), headers=auth)).json()
    sessions = program_body()["sessions"] * 1 + [
        {**program_body()["sessions"][0], "title": "Pertemuan 2"}
    ]
    response = await client.patch(
        f"/api/v1/programs/{created['slug']}", headers=auth, json={"sessions": sessions}
    )
    assert response.status_code == 200
    detail = (await client.get(f"/api/v1/programs/{created['slug']}", headers=auth)).json()
    assert sorted(s["title"] for s in detail["sessions"]) == ["Pertemuan 1", "Pertemuan 2"]


async def test_openapi_lists_the_programs_api(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/programs" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/programs"]
    assert "patch" in schema["paths"]["/api/v1/programs/{slug}"]
