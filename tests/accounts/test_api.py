"""`GET /api/v1/me`: who a Bearer token belongs to; nothing else authenticates the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.accounts.helpers import sign_in
from tests.factories import make_staff, make_token
from youth_hub.accounts.tables import ApiToken, StaffUser


async def test_me_answers_for_a_valid_token(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="dinporapar", name="Dewi Lestari")
    token = await make_token(staff)
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    expected = {"email": staff["email"], "name": "Dewi Lestari", "role": "dinporapar"}
    assert response.json() == expected
    used = await ApiToken.select(ApiToken.last_used_at).where(ApiToken.user == staff["id"]).run()
    assert used[0]["last_used_at"] is not None


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
        "Bearer yh_' OR 1=1 --",
        "Bearer ꦲꦗꦶ😀",
    ],
)
async def test_me_refuses_missing_or_wrong_credentials(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    # raw UTF-8 bytes, as a hostile client would send them (httpx refuses non-ASCII str)
    headers = {"Authorization": authorization.encode()} if authorization is not None else {}
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["detail"] and body["errors"] == []
    assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_token_is_refused(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    token = await make_token(staff)
    await (
        ApiToken.update({ApiToken.revoked_at: ApiToken.created_at})
        .where(ApiToken.user == staff["id"])
        .run()
    )
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_token_of_a_deactivated_account_is_refused(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    token = await make_token(staff)
    await StaffUser.update({StaffUser.active: False}).where(StaffUser.id == staff["id"]).run()
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_a_session_cookie_does_not_authenticate_the_api(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    await sign_in(client, admin["email"])
    assert (await client.get("/manage/staff", follow_redirects=False)).status_code == 200
    response = await client.get("/api/v1/me")
    assert response.status_code == 401


async def test_last_used_is_refreshed_at_most_every_few_minutes(
    client: httpx.AsyncClient,
) -> None:
    staff = await make_staff(role="scanner")
    token = await make_token(staff)
    bearer = {"Authorization": f"Bearer {token}"}

    async def last_used() -> datetime:
        rows = (
            await ApiToken.select(ApiToken.last_used_at).where(ApiToken.user == staff["id"]).run()
        )
        value: datetime = rows[0]["last_used_at"]
        return value

    await client.get("/api/v1/me", headers=bearer)
    first = await last_used()
    await client.get("/api/v1/me", headers=bearer)
    assert await last_used() == first  # no write per request on the API's hot path
    stale = datetime.now(UTC) - timedelta(minutes=10)
    await ApiToken.update({ApiToken.last_used_at: stale}).where(ApiToken.user == staff["id"]).run()
    await client.get("/api/v1/me", headers=bearer)
    assert await last_used() > stale + timedelta(minutes=9)
