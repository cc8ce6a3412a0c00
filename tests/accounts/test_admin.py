"""Admin pages: staff accounts, roles, activity, API tokens, the audit log."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from tests.accounts.helpers import csrf_token, indonesian, sign_in
from tests.factories import make_staff, make_token
from youth_hub.accounts import CurrentUser, Role, record_audit
from youth_hub.accounts.passwords import hash_token
from youth_hub.accounts.tables import ApiToken, AuditLog, StaffUser
from youth_hub.web import DomainError

ADMIN_PAGES = ["/manage/staff", "/manage/audit"]


async def admin_client(client: httpx.AsyncClient) -> dict[str, Any]:
    admin = await make_staff(role="admin", name="Admin Utama")
    await sign_in(client, admin["email"])
    return admin


async def post_form(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    token = await csrf_token(client, "/manage/staff")
    return await client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False)


async def staff_row(user_id: int) -> dict[str, Any]:
    row = await StaffUser.select().where(StaffUser.id == user_id).first().run()
    assert row is not None
    return row


async def audit(action: str) -> list[dict[str, Any]]:
    return list(
        await AuditLog.select().where(AuditLog.action == action).output(load_json=True).run()
    )


def as_user(row: dict[str, Any]) -> CurrentUser:
    return CurrentUser(id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]))


# --- Who may see them --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*ADMIN_PAGES, "/manage/staff/1"])
async def test_anonymous_visitors_are_sent_to_sign_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, follow_redirects=False)
    assert response.status_code in (302, 303)
    location = httpx.URL(response.headers["location"])
    assert location.path == "/login" and location.params["next"] == path


async def test_anonymous_post_is_refused(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/manage/staff",
        data={"email": "x@example.test", "role": "admin", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert await StaffUser.count().where(StaffUser.email == "x@example.test").run() == 0


@pytest.mark.parametrize("role", ["organiser", "dinporapar", "scanner"])
async def test_other_roles_are_forbidden(client: httpx.AsyncClient, role: str) -> None:
    victim = await make_staff(role="organiser")
    staff = await make_staff(role=role)
    await sign_in(client, staff["email"])
    for path in [*ADMIN_PAGES, f"/manage/staff/{victim['id']}"]:
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "Akun Anda tidak boleh melakukan ini." in response.text
    token = str(client.cookies.get("yh_csrf"))
    for path, data in [
        ("/manage/staff", {"email": "new@example.test", "role": "admin"}),
        (f"/manage/staff/{victim['id']}/role", {"role": "admin"}),
        (f"/manage/staff/{victim['id']}/deactivate", {}),
        (f"/manage/staff/{staff['id']}/role", {"role": "admin"}),
        (f"/manage/staff/{victim['id']}/tokens", {"label": "x"}),
    ]:
        response = await client.post(
            path, data={**data, "_csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 403, path
    assert (await staff_row(victim["id"]))["role"] == "organiser"
    assert (await staff_row(victim["id"]))["active"] is True
    assert (await staff_row(staff["id"]))["role"] == role
    assert await StaffUser.count().where(StaffUser.email == "new@example.test").run() == 0
    assert await ApiToken.count().run() == 0


# --- Staff list and creation -------------------------------------------------------------------


async def test_staff_list_shows_every_account(client: httpx.AsyncClient) -> None:
    await admin_client(client)
    gone = await make_staff(role="scanner", name="Relawan Lama")
    await StaffUser.update({StaffUser.active: False}).where(StaffUser.id == gone["id"]).run()
    response = await client.get("/manage/staff")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert 'hx-history="false"' in response.text
    html = response.text
    assert gone["email"] in html and "Relawan Lama" in html
    assert "Pemindai" in html and "Nonaktif" in html and "Admin Utama" in html
    assert f'href="/manage/staff/{gone["id"]}"' in html
    assert " style=" not in html and "<script>" not in html


async def test_admin_adds_staff_and_the_password_is_shown_once(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_client(client)
    response = await post_form(
        client, "/manage/staff", email=" Sari@Example.test ", name="Sari Dewi", role="organiser"
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    password = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', response.text)
    assert password, response.text
    row = await StaffUser.select().where(StaffUser.email == "sari@example.test").first().run()
    assert row and row["role"] == "organiser" and row["name"] == "Sari Dewi"
    assert password.group(1) not in row["password_hash"]
    [entry] = await audit("staff.create")
    assert entry["actor"] == admin["id"] and entry["target"] == "sari@example.test"
    assert entry["detail"] == {"role": "organiser"}
    # the new account signs in with the password shown
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as new:
        assert (await sign_in(new, "sari@example.test", password.group(1))).status_code == 303
    # and the list never shows it again
    assert password.group(1) not in (await client.get("/manage/staff")).text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"email": "", "role": "organiser"}, "email", "Enter a valid email address."),
        ({"email": "no-at-sign", "role": "organiser"}, "email", "Enter a valid email address."),
        (
            {"email": "a" * 250 + "@example.test", "role": "organiser"},
            "email",
            "Enter a valid email address.",
        ),
        ({"email": "ok@example.test", "role": "superuser"}, "role", "Choose one of the roles."),
        ({"email": "ok@example.test", "role": ""}, "role", "Choose one of the roles."),
        (
            {"email": "ok@example.test", "role": "organiser", "name": "n" * 121},
            "name",
            "At most 120 characters.",
        ),
    ],
)
async def test_bad_staff_input_names_the_field_and_creates_nothing(
    client: httpx.AsyncClient, form: dict[str, str], field: str, message: str
) -> None:
    await admin_client(client)
    before = await StaffUser.count().run()
    response = await post_form(client, "/manage/staff", **form)
    assert response.status_code == 422
    assert f'id="staff-{field}-error"' in response.text
    assert indonesian(message) in response.text
    assert await StaffUser.count().run() == before
    assert await audit("staff.create") == []


async def test_duplicate_email_is_refused(client: httpx.AsyncClient) -> None:
    await admin_client(client)
    existing = await make_staff(role="scanner")
    before = await StaffUser.count().run()
    response = await post_form(
        client, "/manage/staff", email=existing["email"].upper(), role="admin"
    )
    assert response.status_code == 409
    assert indonesian("A staff account with this email already exists.") in response.text
    assert 'id="staff-email-error"' in response.text
    assert await StaffUser.count().run() == before
    assert (await staff_row(existing["id"]))["role"] == "scanner"


async def test_markup_in_a_name_is_stored_as_written_and_shown_escaped(
    client: httpx.AsyncClient,
) -> None:
    await admin_client(client)
    name = "<img src=x onerror=alert(1)>{{7*7}} ꦱꦫꦶ 😀"
    response = await post_form(
        client, "/manage/staff", email="markup@example.test", name=name, role="scanner"
    )
    assert response.status_code == 201
    row = await StaffUser.select().where(StaffUser.email == "markup@example.test").first().run()
    assert row and row["name"] == name
    html = (await client.get("/manage/staff")).text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;{{7*7}}" in html
    # The template syntax is shown, never evaluated: no text node reads 49 (tokens may).
    assert "ꦱꦫꦶ 😀" in html and "49" not in re.findall(r">([^<]*)<", html)


async def test_two_admins_creating_one_email_at_once_get_one_account(
    client: httpx.AsyncClient,
) -> None:
    await admin_client(client)
    token = await csrf_token(client, "/manage/staff")
    form = {"email": "race@example.test", "role": "scanner", "_csrf_token": token}
    responses = await asyncio.gather(
        *(client.post("/manage/staff", data=form, follow_redirects=False) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await StaffUser.count().where(StaffUser.email == "race@example.test").run() == 1


# --- Roles and activity ------------------------------------------------------------------------


async def test_role_change_is_applied_at_once_and_audited(client: httpx.AsyncClient) -> None:
    admin = await admin_client(client)
    staff = await make_staff(role="organiser")
    response = await post_form(client, f"/manage/staff/{staff['id']}/role", role="dinporapar")
    assert response.status_code == 303
    assert response.headers["location"] == f"/manage/staff/{staff['id']}?done=role"
    assert (await staff_row(staff["id"]))["role"] == "dinporapar"
    [entry] = await audit("staff.role_change")
    assert entry["actor"] == admin["id"] and entry["target"] == staff["email"]
    assert entry["detail"] == {"from": "organiser", "to": "dinporapar"}
    page = await client.get(response.headers["location"])
    assert "Peran sudah diubah." in page.text
    # the same role again changes nothing and writes nothing
    await post_form(client, f"/manage/staff/{staff['id']}/role", role="dinporapar")
    assert len(await audit("staff.role_change")) == 1


async def test_unknown_role_is_refused(client: httpx.AsyncClient) -> None:
    await admin_client(client)
    staff = await make_staff(role="organiser")
    response = await post_form(client, f"/manage/staff/{staff['id']}/role", role="root")
    assert response.status_code == 422
    assert indonesian("Choose one of the roles.") in response.text
    assert (await staff_row(staff["id"]))["role"] == "organiser"


async def test_admin_cannot_demote_or_deactivate_themselves(client: httpx.AsyncClient) -> None:
    admin = await admin_client(client)
    for path, data in [
        (f"/manage/staff/{admin['id']}/role", {"role": "organiser"}),
        (f"/manage/staff/{admin['id']}/deactivate", {}),
    ]:
        response = await post_form(client, path, **data)
        assert response.status_code == 409
        assert "mintalah bantuan admin lain" in response.text
    row = await staff_row(admin["id"])
    assert row["role"] == "admin" and row["active"] is True
    assert await audit("staff.role_change") == [] and await audit("staff.deactivate") == []
    page = await client.get(f"/manage/staff/{admin['id']}")
    assert f'action="/manage/staff/{admin["id"]}/deactivate"' not in page.text


async def test_two_admins_demoting_each_other_at_once_leave_an_admin(engine: Any) -> None:
    from youth_hub.accounts import services

    first = await make_staff(role="admin")
    second = await make_staff(role="admin")
    results = await asyncio.gather(
        services.change_role(as_user(first), second["id"], "organiser"),
        services.change_role(as_user(second), first["id"], "organiser"),
        return_exceptions=True,
    )
    assert sum(r is True for r in results) == 1
    assert all(r is True or isinstance(r, DomainError) for r in results)
    admins = (
        await StaffUser.count().where((StaffUser.role == "admin") & StaffUser.active.eq(True)).run()
    )
    assert admins == 1


async def test_deactivation_stops_sessions_and_tokens_at_once(
    client: httpx.AsyncClient,
) -> None:
    await admin_client(client)
    staff = await make_staff(role="admin")
    token = await make_token(staff)
    async with httpx.AsyncClient(
        transport=client._transport, base_url=str(client.base_url)
    ) as theirs:
        await sign_in(theirs, staff["email"])
        assert (await theirs.get("/manage/staff", follow_redirects=False)).status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await theirs.get("/api/v1/me", headers=bearer)).status_code == 200

        response = await post_form(client, f"/manage/staff/{staff['id']}/deactivate")
        assert response.status_code == 303
        assert (await staff_row(staff["id"]))["active"] is False
        assert len(await audit("staff.deactivate")) == 1

        stopped = await theirs.get("/manage/staff", follow_redirects=False)
        assert stopped.status_code in (302, 303)  # the session no longer names anyone
        assert (await theirs.get("/api/v1/me", headers=bearer)).status_code == 401

        response = await post_form(client, f"/manage/staff/{staff['id']}/reactivate")
        assert response.status_code == 303
        assert len(await audit("staff.reactivate")) == 1
        assert (await theirs.get("/api/v1/me", headers=bearer)).status_code == 200


# --- API tokens --------------------------------------------------------------------------------


async def test_issued_token_is_shown_once_works_and_can_be_revoked(
    client: httpx.AsyncClient,
) -> None:
    admin = await admin_client(client)
    staff = await make_staff(role="organiser")
    response = await post_form(client, f"/manage/staff/{staff['id']}/tokens", label="Laporan")
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    match = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', response.text)
    assert match
    token = match.group(1)
    [row] = await ApiToken.select().where(ApiToken.user == staff["id"]).run()
    assert row["token_hash"] == hash_token(token) and token not in row["token_hash"]
    assert row["label"] == "Laporan"
    [issued] = await audit("token.issue")
    assert issued["actor"] == admin["id"] and issued["detail"]["token_id"] == row["id"]

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == staff["email"]
    detail = await client.get(f"/manage/staff/{staff['id']}")
    assert "Laporan" in detail.text and token not in detail.text

    revoke = f"/manage/staff/{staff['id']}/tokens/{row['id']}/revoke"
    response = await post_form(client, revoke)
    assert response.status_code == 303
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert len(await audit("token.revoke")) == 1
    await post_form(client, revoke)  # revoking twice writes nothing more
    assert len(await audit("token.revoke")) == 1


async def test_token_actions_refuse_what_does_not_fit(client: httpx.AsyncClient) -> None:
    await admin_client(client)
    staff = await make_staff(role="organiser")
    other = await make_staff(role="organiser")
    others_token = await make_token(other)
    [row] = await ApiToken.select(ApiToken.id).where(ApiToken.user == other["id"]).run()

    long_label = await post_form(client, f"/manage/staff/{staff['id']}/tokens", label="x" * 101)
    assert long_label.status_code == 422
    assert indonesian("At most 100 characters.") in long_label.text
    wrong_owner = await post_form(client, f"/manage/staff/{staff['id']}/tokens/{row['id']}/revoke")
    assert wrong_owner.status_code == 404
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {others_token}"})
    ).status_code == 200
    await StaffUser.update({StaffUser.active: False}).where(StaffUser.id == staff["id"]).run()
    inactive = await post_form(client, f"/manage/staff/{staff['id']}/tokens", label="x")
    assert inactive.status_code == 409
    assert await ApiToken.count().where(ApiToken.user == staff["id"]).run() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/manage/staff/999999",
        "/manage/staff/99999999999999999999",
        "/manage/staff/0",
        "/manage/staff/-1",
        "/manage/staff/abc",
        "/manage/staff/1%00",
    ],
)
async def test_unknown_accounts_are_404_never_500(client: httpx.AsyncClient, path: str) -> None:
    await admin_client(client)
    response = await client.get(path)
    assert response.status_code == 404
    for action, data in [
        ("role", {"role": "admin"}),
        ("deactivate", {}),
        ("tokens", {"label": "x"}),
        ("tokens/99999999999999/revoke", {}),
    ]:
        response = await post_form(client, f"{path}/{action}", **data)
        assert response.status_code in (404, 405), (path, action, response.status_code)


# --- The audit log -----------------------------------------------------------------------------


async def test_audit_log_is_newest_first_paged_and_filtered(client: httpx.AsyncClient) -> None:
    admin = await admin_client(client)
    actor = as_user(admin)
    for i in range(55):
        await record_audit(actor, "registrations.view", f"program-{i}", {"n": i})
    await record_audit(actor, "export.csv", "<b>program</b>", {"rows": 3})
    first = await client.get("/manage/audit")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    html = first.text
    assert html.index("export.csv</code>") < html.index("program-54")
    assert "program-5<" not in html and "&lt;b&gt;program&lt;/b&gt;" in html
    assert "57 entri" in html  # 55 + export + the admin's sign-in
    second = await client.get("/manage/audit?page=2")
    assert "program-5<" in second.text and "program-54" not in second.text
    filtered = await client.get("/manage/audit", params={"action": "export.csv"})
    assert "1 entri" in filtered.text and "program-54" not in filtered.text
    fragment = await client.get(
        "/manage/audit", params={"action": "export.csv"}, headers={"HX-Request": "true"}
    )
    assert fragment.text.lstrip().startswith('<div id="audit-results"')
    assert "HX-Request" in fragment.headers["vary"]
    nothing = await client.get("/manage/audit", params={"action": "<script>"})
    assert nothing.status_code == 200 and "<script>" not in nothing.text.split("<main")[1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-3"}, "page"),
        ({"page": "9" * 30}, "page"),
        ({"action": "x" * 61}, "action"),
    ],
)
async def test_bad_audit_queries_get_a_clear_4xx(
    client: httpx.AsyncClient, query: dict[str, str], field: str
) -> None:
    await admin_client(client)
    response = await client.get("/manage/audit", params=query)
    assert response.status_code == 422
    expected = {
        "page": "Nomor halaman harus bilangan bulat mulai dari 1.",
        "action": "Filter tindakan terlalu panjang.",
    }[field]
    assert expected in response.text
