"""The JSON API: POST /api/v1/programs/{slug}/registrations (anyone, rate-limited) and
GET (staff, audit-logged). SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest

from tests.factories import make_program, make_staff, make_token
from tests.registration.helpers import person
from tests.support.client import in_loop_client
from youth_hub.accounts.tables import AuditLog
from youth_hub.registration import register_checkin_reader
from youth_hub.registration import services as registration_services
from youth_hub.registration.tables import Registration
from youth_hub.settings import RateLimit, Settings


def _url(program: dict[str, Any]) -> str:
    return f"/api/v1/programs/{program['slug']}/registrations"


async def test_register_answers_201_with_code_status_position_and_ticket_url(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program(capacity=1, waitlist_limit=5)
    first = await client.post(_url(program), json=person(1))
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"code", "status", "waitlist_position", "ticket_url"}
    assert body["status"] == "confirmed" and body["waitlist_position"] is None
    assert body["ticket_url"] == f"http://testserver.local/tickets/{body['code']}"
    second = await client.post(_url(program), json=person(2))
    assert second.status_code == 201
    assert second.json()["status"] == "waitlisted" and second.json()["waitlist_position"] == 1


async def test_idempotency_key_makes_a_retry_answer_the_same(client: httpx.AsyncClient) -> None:
    program = await make_program(capacity=3)
    headers = {"Idempotency-Key": "3f0c5c8e-retry"}
    first = await client.post(_url(program), json=person(1), headers=headers)
    again = await client.post(_url(program), json=person(1), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await Registration.count().run() == 1
    other = await client.post(_url(program), json=person(2), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert first.json()["code"] not in other.text
    too_long = await client.post(
        _url(program), json=person(3), headers={"Idempotency-Key": "k" * 300}
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_duplicate_live_registration_is_409_without_the_ticket_code(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program(capacity=3)
    first = await client.post(_url(program), json=person(1))
    duplicate = await client.post(_url(program), json=person(2, email="BUDI1@example.id"))
    assert duplicate.status_code == 409
    body = duplicate.json()
    assert body["code"] == "duplicate_registration" and body["detail"]
    assert body["my_tickets_url"] == "/my"
    assert first.json()["code"] not in duplicate.text


async def test_full_and_closed_programs_are_409(client: httpx.AsyncClient) -> None:
    full = await make_program(capacity=1, waitlist_limit=0)
    assert (await client.post(_url(full), json=person(1))).status_code == 201
    refused = await client.post(_url(full), json=person(2))
    assert refused.status_code == 409 and refused.json()["code"] == "full"
    cancelled = await make_program(status="cancelled")
    refused = await client.post(_url(cancelled), json=person(3))
    assert refused.status_code == 409 and refused.json()["code"] == "program_cancelled"
    draft = await make_program(status="draft")
    assert (await client.post(_url(draft), json=person(4))).status_code == 404


async def test_field_errors_are_422_in_indonesian_or_english(client: httpx.AsyncClient) -> None:
    program = await make_program()
    bad = person(1, email="not-an-email", phone="123", birth_date="2023-02-30")
    response = await client.post(_url(program), json=bad)
    assert response.status_code == 422
    body = response.json()
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"email", "phone", "birth_date"}
    assert "tidak ada" in fields["birth_date"]
    english = await client.post(_url(program) + "?lang=en", json=bad)
    assert (
        "does not exist"
        in {e["field"]: e["message"] for e in english.json()["errors"]}["birth_date"]
    )
    assert await Registration.count().run() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b'{"full_name": ',
        json.dumps(
            {
                "full_name": ["a"],
                "email": {"x": 1},
                "phone": 812,
                "birth_date": 20000101,
                "kecamatan": None,
                "guardian_consent": "perhaps",
            }
        ).encode(),
        json.dumps({k: "x" * 10_000 for k in person(1)}).encode(),
        json.dumps(person(1, full_name="\x00\x01")).encode(),
    ],
)
async def test_hostile_bodies_get_a_4xx_never_a_5xx(client: httpx.AsyncClient, body: bytes) -> None:
    program = await make_program()
    response = await client.post(
        _url(program), content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text
    assert response.json()["detail"]
    assert await Registration.count().run() == 0


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    program = await make_program()
    response = await client.post(
        _url(program),
        content=b"{" + b" " * 400_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


async def test_hostile_strings_are_stored_as_written(client: httpx.AsyncClient) -> None:
    program = await make_program()
    name = "<img src=x onerror=alert(1)> {{7*7}} =SUM(A1) ꦱꦸꦒꦶ 👩🏽‍🎓"
    response = await client.post(
        _url(program), json=person(1, full_name=name, school="'; DROP TABLE x; --")
    )
    assert response.status_code == 201
    row = await Registration.select(Registration.full_name, Registration.school).first().run()
    assert row == {"full_name": name, "school": "'; DROP TABLE x; --"}


# --------------------------------------------------------------------------- staff read


async def test_staff_list_with_personal_data_is_audited(client: httpx.AsyncClient) -> None:
    organiser = await make_staff("organiser")
    program = await make_program(organiser=organiser, capacity=1, waitlist_limit=3)
    await client.post(_url(program), json=person(1))
    await client.post(_url(program), json=person(2))
    token = await make_token(organiser)
    response = await client.get(_url(program), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2 and body["program"] == program["slug"]
    first, second = body["items"]
    assert first["email"] == "budi1@example.id" and first["phone"].startswith("+62")
    assert first["status"] == "confirmed" and second["waitlist_position"] == 1
    assert first["checkins"] == [] and first["birth_date"] == "2000-05-17"
    assert response.headers["cache-control"] == "no-store"
    audit = await AuditLog.select(AuditLog.action, AuditLog.target, AuditLog.actor).run()
    assert {
        "action": "registrations.read",
        "target": f"program:{program['slug']}",
        "actor": organiser["id"],
    } in audit


async def test_check_ins_come_from_the_registered_reader(client: httpx.AsyncClient) -> None:
    admin = await make_staff("admin")
    program = await make_program()
    await client.post(_url(program), json=person(1))
    reg = await Registration.select(Registration.id).first().run()

    async def reader(program_id: int) -> dict[int, list[dict[str, Any]]]:
        return {reg["id"]: [{"session_id": 1, "checked_in_at": "2026-12-01T02:00:00+00:00"}]}

    previous = list(registration_services._checkin_reader)
    register_checkin_reader(reader)
    try:
        token = await make_token(admin)
        body = (
            await client.get(_url(program), headers={"Authorization": f"Bearer {token}"})
        ).json()
    finally:
        registration_services._checkin_reader[:] = previous
    assert body["items"][0]["checkins"] == [
        {"session_id": 1, "checked_in_at": "2026-12-01T02:00:00+00:00"}
    ]


@pytest.mark.parametrize(
    "role,own,expected",
    [
        ("admin", False, 200),
        ("dinporapar", False, 200),
        ("organiser", True, 200),
        ("organiser", False, 404),
        ("scanner", False, 403),
    ],
)
async def test_staff_list_roles(
    client: httpx.AsyncClient, role: str, own: bool, expected: int
) -> None:
    user = await make_staff(role)
    program = await make_program(organiser=user if own else await make_staff("organiser"))
    await client.post(_url(program), json=person(1))
    token = await make_token(user)
    response = await client.get(_url(program), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == expected
    if expected != 200:
        assert "budi1@example.id" not in response.text


async def test_staff_list_needs_a_bearer_token(client: httpx.AsyncClient) -> None:
    program = await make_program()
    assert (await client.get(_url(program))).status_code == 401
    response = await client.get(_url(program), headers={"Authorization": "Bearer yh_wrong"})
    assert response.status_code == 401


async def test_unknown_program_list_is_404_for_office(client: httpx.AsyncClient) -> None:
    token = await make_token(await make_staff("admin"))
    response = await client.get(
        "/api/v1/programs/nope/registrations", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404


# --------------------------------------------------------------------------- rate limits


async def test_one_address_cannot_hammer_one_email_but_a_school_is_not_locked_out(
    settings: Settings,
    engine: Any,
) -> None:
    from youth_hub.app import create_app

    limited = dataclasses.replace(settings, rate_limits={"register": RateLimit(1000, "minute")})
    app = create_app(limited, run_scheduler=False)
    program = await make_program(capacity=100)
    async with in_loop_client(app) as client:
        # many pupils behind one address: all accepted
        for n in range(1, 13):
            response = await client.post(_url(program), json=person(n))
            assert response.status_code == 201, response.text
        # one email tried again and again (each a duplicate 409) until the limit says 429
        codes = [
            (
                await client.post(_url(program), json=person(50, email="budi1@example.id"))
            ).status_code
            for _ in range(6)
        ]
        assert codes[:4] == [409] * 4 and codes[-1] == 429
        refused = await client.post(_url(program), json=person(51, email="budi1@example.id"))
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["field"] == "email"
        # another email from the same address still works
        ok = await client.post(_url(program), json=person(60))
        assert ok.status_code == 201


async def test_the_routes_are_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = schema["paths"]["/api/v1/programs/{slug}/registrations"]
    assert {"get", "post"} <= set(operations)
