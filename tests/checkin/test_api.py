"""The check-in JSON API: Bearer tokens, roles, answers, batches, bundle, scanners."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.checkin.helpers import assign, sessions_of, ticket
from tests.factories import make_program, make_registration, make_staff, make_token
from youth_hub.checkin.tables import CheckIn, ScanLog, ScannerAssignment
from youth_hub.settings import Settings


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_door(**kwargs: Any) -> dict[str, Any]:
    """A program whose first session started ten minutes ago: check-in is open now."""
    organiser = await make_staff("organiser")
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    program = await make_program(organiser=organiser, starts_at=starts, **kwargs)
    scanner = await make_staff("scanner")
    await assign(program, scanner)
    registration = await make_registration(
        program, full_name="Putri Ayu Lestari", first_name="Putri"
    )
    return {
        "organiser": organiser,
        "program": program,
        "scanner": scanner,
        "registration": registration,
        "token": await make_token(scanner),
    }


async def test_checkin_answers_ok_then_already(client: Any, settings: Settings) -> None:
    door = await open_door()
    body = {"payload": ticket(settings, door["registration"]), "program": door["program"]["slug"]}
    first = await client.post("/api/v1/checkin", json=body, headers=bearer(door["token"]))
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["result"] == "ok" and answer["first_name"] == "Putri"
    assert set(answer) == {"result", "first_name", "program", "session_id", "checked_in_at"}
    second = await client.post("/api/v1/checkin", json=body, headers=bearer(door["token"]))
    assert second.json()["result"] == "already_checked_in"
    assert second.json()["checked_in_at"] == answer["checked_in_at"]
    for word in ("Lestari", "example.test", "+62", "2005"):
        assert word not in first.text + second.text


async def test_checkin_needs_a_bearer_token(client: Any, settings: Settings) -> None:
    door = await open_door()
    body = {"payload": ticket(settings, door["registration"]), "program": door["program"]["slug"]}
    anonymous = await client.post("/api/v1/checkin", json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"]
    wrong = await client.post("/api/v1/checkin", json=body, headers=bearer("yh_not-a-token"))
    assert wrong.status_code == 401
    assert await CheckIn.count().run() == 0


async def test_unassigned_scanner_gets_not_allowed(client: Any, settings: Settings) -> None:
    door = await open_door()
    stranger = await make_token(await make_staff("scanner"))
    body = {"payload": ticket(settings, door["registration"]), "program": door["program"]["slug"]}
    response = await client.post("/api/v1/checkin", json=body, headers=bearer(stranger))
    assert response.status_code == 200
    assert response.json()["result"] == "not_allowed"
    assert response.json()["first_name"] is None
    bundle = await client.get(
        f"/api/v1/programs/{door['program']['slug']}/checkin-bundle", headers=bearer(stranger)
    )
    assert bundle.status_code == 403
    assert await CheckIn.count().run() == 0


@pytest.mark.parametrize("role", ["organiser_owner", "dinporapar", "admin"])
async def test_organiser_office_and_admin_may_scan_without_assignment(
    client: Any, settings: Settings, role: str
) -> None:
    door = await open_door()
    staff = door["organiser"] if role == "organiser_owner" else await make_staff(role)
    body = {"payload": ticket(settings, door["registration"]), "program": door["program"]["slug"]}
    response = await client.post(
        "/api/v1/checkin", json=body, headers=bearer(await make_token(staff))
    )
    assert response.json()["result"] == "ok"


async def test_nonce_retry_over_http(client: Any, settings: Settings) -> None:
    door = await open_door()
    body = {
        "payload": ticket(settings, door["registration"]),
        "program": door["program"]["slug"],
        "nonce": "retry-7",
    }
    first = await client.post("/api/v1/checkin", json=body, headers=bearer(door["token"]))
    again = await client.post("/api/v1/checkin", json=body, headers=bearer(door["token"]))
    assert first.json() == again.json()
    assert first.json()["result"] == "ok"
    assert await ScanLog.count().run() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"program": "x"}, "payload"),
        ({"payload": "", "program": "x"}, "payload"),
        ({"payload": 123, "program": "x"}, "payload"),
        ({"payload": "YH1.a.b", "program": ""}, "program"),
        ({"payload": "YH1.a.b", "program": ["a"]}, "program"),
        ({"payload": "YH1.a.b", "program": "{slug}", "session_id": "abc"}, "session_id"),
        ({"payload": "YH1.a.b", "program": "{slug}", "session_id": -4}, "session_id"),
        ({"payload": "YH1.a.b", "program": "{slug}", "nonce": "with space"}, "nonce"),
        ({"payload": "YH1.a.b", "program": "{slug}", "nonce": {"x": 1}}, "nonce"),
    ],
)
async def test_bad_bodies_get_422_naming_the_field(
    client: Any, settings: Settings, body: dict[str, Any], field: str
) -> None:
    door = await open_door()
    body = {
        k: (v.replace("{slug}", door["program"]["slug"]) if isinstance(v, str) else v)
        for k, v in body.items()
    }
    response = await client.post(
        "/api/v1/checkin", json=body, headers=bearer(door["token"]), params={"lang": "id"}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors[0]["field"] == field
    assert errors[0]["message"] and errors[0]["message"][0].isupper()
    assert await ScanLog.count().run() == 0


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'"text"', b"{" * 1000, b'{"payload": "\\ud800"}']
)
async def test_malformed_json_is_a_4xx_without_traceback(client: Any, raw: bytes) -> None:
    door = await open_door()
    response = await client.post(
        "/api/v1/checkin",
        content=raw,
        headers={**bearer(door["token"]), "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text


async def test_oversized_batch_body_is_refused(client: Any) -> None:
    door = await open_door()
    response = await client.post(
        "/api/v1/checkin/batch",
        content=b'{"scans": [' + b"1," * 200_000 + b"1]}",
        headers={**bearer(door["token"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_unknown_program_is_404(client: Any, settings: Settings) -> None:
    door = await open_door()
    response = await client.post(
        "/api/v1/checkin",
        headers=bearer(door["token"]),
        json={"payload": ticket(settings, door["registration"]), "program": "nope"},
    )
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "program"


async def test_batch_keeps_the_earliest_and_resend_changes_nothing(
    client: Any, settings: Settings
) -> None:
    door = await open_door()
    slug = door["program"]["slug"]
    session_id = (await sessions_of(door["program"]))[0]["id"]
    payload = ticket(settings, door["registration"])
    base = datetime.now(UTC).replace(microsecond=0)
    later = {
        "payload": payload,
        "program": slug,
        "session_id": session_id,
        "scanned_at": (base - timedelta(minutes=2)).isoformat(),
        "device_id": "phone-2",
    }
    earlier = {
        **later,
        "scanned_at": (base - timedelta(minutes=6)).isoformat(),
        "device_id": "phone-1",
    }
    first = await client.post(
        "/api/v1/checkin/batch", json={"scans": [later]}, headers=bearer(door["token"])
    )
    assert first.status_code == 200
    assert [r["result"] for r in first.json()["results"]] == ["ok"]
    second = await client.post(
        "/api/v1/checkin/batch", json={"scans": [earlier]}, headers=bearer(door["token"])
    )
    assert [r["result"] for r in second.json()["results"]] == ["already_checked_in"]
    kept = await CheckIn.select().first().run()
    assert kept["device_id"] == "phone-1"
    assert kept["checked_in_at"] == base - timedelta(minutes=6)
    rows = await ScanLog.count().run()
    again = await client.post(
        "/api/v1/checkin/batch", json={"scans": [later, earlier]}, headers=bearer(door["token"])
    )
    assert again.json()["results"] == first.json()["results"] + second.json()["results"]
    assert await ScanLog.count().run() == rows
    assert await CheckIn.count().run() == 1


async def test_batch_bad_shape_names_the_field(client: Any) -> None:
    door = await open_door()
    response = await client.post(
        "/api/v1/checkin/batch",
        headers=bearer(door["token"]),
        json={"scans": [{"payload": "x", "program": "p", "scanned_at": "soon"}]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "scans[0].scanned_at"
    missing = await client.post("/api/v1/checkin/batch", headers=bearer(door["token"]), json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "scans"


async def test_bundle_over_http_has_no_personal_data(client: Any, settings: Settings) -> None:
    door = await open_door()
    gone = await make_registration(door["program"], status="cancelled", full_name="Wulan Sari")
    response = await client.get(
        f"/api/v1/programs/{door['program']['slug']}/checkin-bundle", headers=bearer(door["token"])
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    bundle = response.json()
    assert set(bundle) >= {"public_keys", "cancelled", "checked_in", "sessions", "program"}
    assert bundle["cancelled"] == [gone["id"]]
    text = json.dumps(bundle)
    for reg in (door["registration"], gone):
        for key in ("full_name", "first_name", "email", "phone", "code", "school"):
            assert str(reg[key]) not in text
    anonymous = await client.get(f"/api/v1/programs/{door['program']['slug']}/checkin-bundle")
    assert anonymous.status_code == 401


async def test_assign_scanner_by_email(client: Any, settings: Settings) -> None:
    door = await open_door()
    newcomer = await make_staff("scanner", email="relawan@example.test")
    owner = bearer(await make_token(door["organiser"]))
    url = f"/api/v1/programs/{door['program']['slug']}/scanners"
    created = await client.post(url, json={"email": "Relawan@Example.test "}, headers=owner)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "relawan@example.test"
    again = await client.post(url, json={"email": "relawan@example.test"}, headers=owner)
    assert again.status_code == 200
    assert (
        await ScannerAssignment.count().where(ScannerAssignment.user == newcomer["id"]).run() == 1
    )
    unknown = await client.post(url, json={"email": "nobody@example.test"}, headers=owner)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "email"
    bad = await client.post(url, json={"email": 42}, headers=owner)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
    # The new scanner may now scan.
    token = await make_token(newcomer)
    scanned = await client.post(
        "/api/v1/checkin",
        headers=bearer(token),
        json={
            "payload": ticket(settings, door["registration"]),
            "program": door["program"]["slug"],
        },
    )
    assert scanned.json()["result"] == "ok"


@pytest.mark.parametrize("role", ["scanner", "other_organiser"])
async def test_only_its_organiser_or_office_assigns(client: Any, role: str) -> None:
    door = await open_door()
    await make_staff("scanner", email="helper@example.test")
    staff = await make_staff("organiser" if role == "other_organiser" else "scanner")
    response = await client.post(
        f"/api/v1/programs/{door['program']['slug']}/scanners",
        json={"email": "helper@example.test"},
        headers=bearer(await make_token(staff)),
    )
    assert response.status_code == 403
    assert await ScannerAssignment.count().run() == 1  # only the fixture's own assignment
    office = await make_token(await make_staff("dinporapar"))
    ok = await client.post(
        f"/api/v1/programs/{door['program']['slug']}/scanners",
        json={"email": "helper@example.test"},
        headers=bearer(office),
    )
    assert ok.status_code == 201


async def test_ticket_and_staff_apis_show_the_checkins(client: Any, settings: Settings) -> None:
    door = await open_door()
    body = {"payload": ticket(settings, door["registration"]), "program": door["program"]["slug"]}
    answer = (await client.post("/api/v1/checkin", json=body, headers=bearer(door["token"]))).json()
    holder = await client.get(f"/api/v1/tickets/{door['registration']['code']}")
    assert holder.status_code == 200
    assert holder.json()["checkins"] == [
        {"session_id": answer["session_id"], "checked_in_at": answer["checked_in_at"]}
    ]
    staff = await client.get(
        f"/api/v1/programs/{door['program']['slug']}/registrations",
        headers=bearer(await make_token(door["organiser"])),
    )
    assert staff.status_code == 200
    item = next(i for i in staff.json()["items"] if i["full_name"] == "Putri Ayu Lestari")
    assert [c["session_id"] for c in item["checkins"]] == [answer["session_id"]]
