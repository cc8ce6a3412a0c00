"""Staff sign-in: success, failures that tell nothing, bad input, redirects, rehashing."""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher

from tests.accounts.conftest import CountingHasher
from tests.accounts.helpers import csrf_token, indonesian, sign_in
from tests.factories import DEFAULT_PASSWORD, make_staff
from youth_hub.accounts import passwords
from youth_hub.accounts.tables import AuditLog, StaffUser


async def test_sign_in_succeeds_and_lands_on_manage(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    response = await sign_in(client, staff["email"])
    assert response.headers["location"] == "/manage"
    # the session now identifies the user: an admin-only page answers 403, not a redirect
    page = await client.get("/manage/staff", follow_redirects=False)
    assert page.status_code == 403
    logged = await AuditLog.select().where(AuditLog.action == "auth.sign_in").run()
    assert [r["actor_label"] for r in logged] == [staff["email"]]


async def test_scanner_lands_on_scan(client: httpx.AsyncClient) -> None:
    scanner = await make_staff(role="scanner")
    response = await sign_in(client, scanner["email"])
    assert response.headers["location"] == "/scan"


async def test_email_is_matched_case_and_space_insensitively(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_staff(role="admin", email="ayu@example.test")
    response = await sign_in(client, "  AYU@Example.TEST ")
    assert response.status_code == 303
    assert (await client.get("/manage/staff")).status_code == 200
    assert admin["email"] == "ayu@example.test"


async def test_local_next_is_followed(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    response = await sign_in(client, admin["email"], next_path="/manage/audit?action=x")
    assert response.headers["location"] == "/manage/audit?action=x"


@pytest.mark.parametrize(
    "hostile",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "manage",
        "/" + "a" * 600,
        "/logout",
    ],
)
async def test_next_never_leaves_the_site(client: httpx.AsyncClient, hostile: str) -> None:
    admin = await make_staff(role="admin")
    page = await client.get("/login", params={"next": hostile})
    assert page.status_code == 200
    assert 'name="next"' not in page.text
    response = await sign_in(client, admin["email"], next_path=hostile)
    assert response.headers["location"] == "/manage"


async def test_login_page_carries_a_safe_next_and_the_csrf_input(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/login", params={"next": "/manage/staff"})
    assert page.status_code == 200
    assert '<input type="hidden" name="next" value="/manage/staff">' in page.text
    assert 'name="_csrf_token"' in page.text
    assert 'name="email"' in page.text and 'name="password"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Masuk staf" in page.text  # Indonesian by default


async def test_signed_in_visit_to_login_redirects_home(client: httpx.AsyncClient) -> None:
    admin = await make_staff(role="admin")
    await sign_in(client, admin["email"])
    response = await client.get("/login", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/manage"


async def test_unknown_account_and_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient, hasher: CountingHasher
) -> None:
    staff = await make_staff(role="organiser", email="real@example.test")
    wrong = await sign_in(client, staff["email"], "not the password", check=False)
    wrong_hashes = list(hasher.verified)
    hasher.verified.clear()
    unknown = await sign_in(client, "ghost@example.test", "not the password", check=False)
    unknown_hashes = list(hasher.verified)

    assert wrong.status_code == unknown.status_code == 422
    assert wrong.text.replace("real@example.test", "X") == unknown.text.replace(
        "ghost@example.test", "X"
    )
    assert indonesian("The email or password is not correct.") in wrong.text
    # both paths paid for exactly one argon2 verification: the unknown one against the dummy
    assert len(wrong_hashes) == 1 and wrong_hashes[0] != passwords._DUMMY_HASH
    assert unknown_hashes == [passwords._DUMMY_HASH]
    assert "yh_session" not in wrong.headers.get("set-cookie", "")


async def test_deactivated_account_cannot_sign_in_and_looks_unknown(
    client: httpx.AsyncClient, hasher: CountingHasher
) -> None:
    staff = await make_staff(role="organiser")
    await StaffUser.update({StaffUser.active: False}).where(StaffUser.id == staff["id"]).run()
    response = await sign_in(client, staff["email"], DEFAULT_PASSWORD, check=False)
    assert response.status_code == 422
    assert indonesian("The email or password is not correct.") in response.text
    assert hasher.verified == [passwords._DUMMY_HASH]


@pytest.mark.parametrize(
    ("email", "password", "field", "message"),
    [
        ("", "whatever-password", "email", "Enter your email address."),
        ("not-an-email", "whatever-password", "email", "Enter a valid email address."),
        ("a" * 300 + "@example.test", "x", "email", "Enter a valid email address."),
        ("ꦲꦗꦶ@😀", "x", "email", "Enter a valid email address."),
        ("someone@example.test", "", "password", "Enter your password."),
        ("someone@example.test", "p" * 5000, "password", "The password is too long."),
    ],
)
async def test_bad_input_names_the_field_and_checks_no_password(
    client: httpx.AsyncClient,
    hasher: CountingHasher,
    email: str,
    password: str,
    field: str,
    message: str,
) -> None:
    response = await sign_in(client, email, password, check=False)
    assert response.status_code == 422
    assert indonesian(message) in response.text
    assert f'id="login-{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert hasher.verified == []


async def test_markup_in_the_email_is_shown_escaped(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, '"><script>alert(1)</script>', "x", check=False)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


async def test_post_without_csrf_is_refused(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="admin")
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": staff["email"], "password": DEFAULT_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "yh_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "a@b.cd", "password": "x"}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b"email=a%40b.cd&email=c%40d.ef&password=x", "application/x-www-form-urlencoded"),
    ],
)
async def test_odd_bodies_never_cause_a_server_error(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        content=content,
        headers={"content-type": content_type, "x-csrftoken": token},
        follow_redirects=False,
    )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text


async def test_htmx_sign_in_answers_with_hx_redirect(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    token = await csrf_token(client)
    response = await client.post(
        "/login",
        data={"email": staff["email"], "password": DEFAULT_PASSWORD, "_csrf_token": token},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/manage"
    failed = await client.post(
        "/login",
        data={"email": staff["email"], "password": "wrong", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert failed.status_code == 422
    assert "<html" not in failed.text and 'id="login-form"' in failed.text


async def test_outdated_argon2_parameters_are_upgraded_at_sign_in(
    client: httpx.AsyncClient,
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    staff = await make_staff(role="organiser")
    old_hash = weak.hash(DEFAULT_PASSWORD)
    await (
        StaffUser.update({StaffUser.password_hash: old_hash})
        .where(StaffUser.id == staff["id"])
        .run()
    )
    assert passwords.needs_rehash(old_hash)
    await sign_in(client, staff["email"])
    row = (
        await StaffUser.select(StaffUser.password_hash)
        .where(StaffUser.id == staff["id"])
        .first()
        .run()
    )
    assert row is not None
    assert row["password_hash"] != old_hash
    assert not passwords.needs_rehash(row["password_hash"])
    assert passwords.verify_password(row["password_hash"], DEFAULT_PASSWORD)


async def test_current_hash_is_left_alone(client: httpx.AsyncClient) -> None:
    staff = await make_staff(role="organiser")
    before = (
        await StaffUser.select(StaffUser.password_hash)
        .where(StaffUser.id == staff["id"])
        .first()
        .run()
    )
    await sign_in(client, staff["email"])
    after = (
        await StaffUser.select(StaffUser.password_hash)
        .where(StaffUser.id == staff["id"])
        .first()
        .run()
    )
    assert before == after
