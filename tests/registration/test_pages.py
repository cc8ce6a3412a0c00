"""The registration form, /my and the staff pages (HTML, htmx and no-JS). Both databases."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest

from tests.accounts.helpers import SESSION_COOKIE, set_cookie_value
from tests.factories import make_program, make_staff
from tests.registration.helpers import csrf_from, form_token_from, person, sign_in
from youth_hub.accounts.tables import AuditLog
from youth_hub.messaging.tables import OutboxMessage
from youth_hub.registration import register_participant
from youth_hub.registration.tables import Registration
from youth_hub.web.spreadsheet import neutralise_cell

BASE = "http://testserver.local"
HOSTILE = "<script>alert(1)</script> {{7*7}} ꦱꦸꦒꦶ 👩🏽‍🎓"


async def _form(client: httpx.AsyncClient, program: dict[str, Any]) -> tuple[str, str, str]:
    page = await client.get(f"/programs/{program['slug']}/register")
    assert page.status_code == 200, page.text[:500]
    return page.text, csrf_from(page.text), form_token_from(page.text)


async def _submit(
    client: httpx.AsyncClient,
    program: dict[str, Any],
    data: dict[str, Any],
    csrf: str,
    token: str,
    **kwargs: Any,
) -> Any:
    return await client.post(
        f"/programs/{program['slug']}/register",
        data={**data, "_csrf_token": csrf, "form_token": token},
        follow_redirects=False,
        **kwargs,
    )


# --------------------------------------------------------------------------- the form


async def test_form_is_accessible_mobile_first_and_private(client: httpx.AsyncClient) -> None:
    program = await make_program(capacity=3)
    response = await client.get(f"/programs/{program['slug']}/register")
    html = response.text
    assert response.headers["cache-control"] == "no-store"
    assert 'hx-history="false"' in html and 'name="robots" content="noindex"' in html
    for name in (
        "full_name",
        "email",
        "phone",
        "birth_date",
        "gender",
        "kecamatan",
        "village",
        "school",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
    ):
        assert f'name="{name}"' in html and f'for="{name}"' in html, name
    assert 'type="date"' in html and 'inputmode="tel"' in html
    assert 'autocomplete="name"' in html and 'autocomplete="email"' in html
    assert "Wajib jika di bawah 18 tahun" in html
    assert "Tersisa 3 kursi." in html
    assert '<option value="Kutasari">' in html and "Lainnya" in html
    assert "style=" not in html and "<script>" not in html.split("</head>")[1]
    assert 'name="_csrf_token"' in html


async def test_submit_redirects_303_to_the_ticket(client: httpx.AsyncClient) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    response = await _submit(client, program, person(1), csrf, token)
    assert response.status_code == 303, response.text[:500]
    code = (await Registration.select(Registration.code).first().run())["code"]
    assert response.headers["location"] == f"/tickets/{code}"


async def test_htmx_submit_answers_hx_redirect(client: httpx.AsyncClient) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    response = await _submit(
        client, program, person(1), csrf, token, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    code = (await Registration.select(Registration.code).first().run())["code"]
    assert response.headers["hx-redirect"] == f"/tickets/{code}"


async def test_double_tap_and_resubmission_make_one_registration(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    first = await _submit(client, program, person(1), csrf, token)
    second = await _submit(client, program, person(1), csrf, token)
    third = await _submit(client, program, person(1), csrf, token, headers={"HX-Request": "true"})
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert third.headers["hx-redirect"] == first.headers["location"]
    assert await Registration.count().run() == 1
    assert await OutboxMessage.count().where(OutboxMessage.kind == "confirmation").run() == 1


async def test_errors_rerender_the_form_with_422_and_messages_by_each_field(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    bad = person(1, email="nope", birth_date="2023-02-30", full_name=HOSTILE)
    response = await _submit(client, program, bad, csrf, token)
    assert response.status_code == 422
    html = response.text
    assert 'id="email" name="email"' in html
    assert re.search(r'id="email"[^>]*aria-invalid="true"[^>]*aria-describedby="email-error', html)
    assert 'id="email-error"' in html and "Isi alamat email yang benar" in html
    assert 'id="birth_date-error"' in html and "Tanggal ini tidak ada" in html
    assert form_token_from(html) == token  # the same one-time token, nothing was created
    # the hostile name comes back escaped, never as markup
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}}" in html
    assert await Registration.count().run() == 0
    fragment = await _submit(client, program, bad, csrf, token, headers={"HX-Request": "true"})
    assert fragment.status_code == 422
    assert fragment.text.lstrip().startswith('<div id="register-form"')
    assert "<html" not in fragment.text


async def test_minor_without_consent_sees_the_guardian_fields_flagged(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program(age_min=13)
    _html, csrf, token = await _form(client, program)
    response = await _submit(client, program, person(1, birth_date="2012-01-01"), csrf, token)
    assert response.status_code == 422
    for field in ("guardian_name", "guardian_phone", "guardian_consent"):
        assert f'id="{field}-error"' in response.text
    consent = {
        **person(1, birth_date="2012-01-01"),
        "guardian_name": "Ibu Sri",
        "guardian_phone": "0813 2222 3333",
        "guardian_consent": "1",
    }
    accepted = await _submit(client, program, consent, csrf, token)
    assert accepted.status_code == 303
    row = await Registration.select(Registration.guardian_consent_at).first().run()
    assert row["guardian_consent_at"] is not None


async def test_duplicate_gets_a_409_and_a_link_to_my_tickets_not_the_ticket(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program()
    result = await register_participant(program["slug"], person(1), base_url=BASE)
    _html, csrf, token = await _form(client, program)
    response = await _submit(client, program, person(2, phone=person(1)["phone"]), csrf, token)
    assert response.status_code == 409
    assert 'href="/my"' in response.text and "sudah terdaftar" in response.text
    assert result.code not in response.text
    htmx = await _submit(
        client,
        program,
        person(2, phone=person(1)["phone"]),
        csrf,
        token,
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 200 and "sudah terdaftar" in htmx.text


async def test_form_page_tells_honestly_when_full_closed_or_waitlist_only(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program(capacity=1, waitlist_limit=1)
    await register_participant(program["slug"], person(1), base_url=BASE)
    waitlist = await client.get(f"/programs/{program['slug']}/register?lang=en")
    assert "You can still join the waiting list" in waitlist.text
    assert "Join the waiting list" in waitlist.text
    await register_participant(program["slug"], person(2), base_url=BASE)
    full = await client.get(f"/programs/{program['slug']}/register?lang=id")
    assert "Semua kursi dan daftar tunggu sudah penuh." in full.text
    assert 'name="full_name"' not in full.text
    cancelled = await make_program(status="cancelled")
    page = await client.get(f"/programs/{cancelled['slug']}/register")
    assert "dibatalkan" in page.text and 'name="full_name"' not in page.text
    draft = await make_program(status="draft")
    assert (await client.get(f"/programs/{draft['slug']}/register")).status_code == 404


async def test_post_without_csrf_is_refused(client: httpx.AsyncClient) -> None:
    program = await make_program()
    response = await client.post(
        f"/programs/{program['slug']}/register", data=person(1), follow_redirects=False
    )
    assert response.status_code == 403
    assert await Registration.count().run() == 0


# --------------------------------------------------------------------------- /my


async def test_my_answers_the_same_whether_or_not_the_email_has_tickets(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program()
    await register_participant(program["slug"], person(1), base_url=BASE)
    page = await client.get("/my")
    assert page.headers["cache-control"] == "no-store" and 'hx-history="false"' in page.text
    csrf = csrf_from(page.text)
    known = await client.post("/my", data={"email": "budi1@example.id", "_csrf_token": csrf})
    unknown = await client.post("/my", data={"email": "nobody@example.id", "_csrf_token": csrf})
    assert known.status_code == unknown.status_code == 200

    def strip(text: str) -> str:
        return re.sub(r'name="_csrf_token" value="[^"]+"|"x-csrftoken": "[^"]+"', "", text)

    assert strip(known.text) == strip(unknown.text)
    assert "tautan ke tiket-tiket itu sedang dikirim" in known.text
    bad = await client.post("/my", data={"email": "nope", "_csrf_token": csrf})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text


async def _ask_for_my_link(client: httpx.AsyncClient, email: str) -> tuple[str, str]:
    """Ask for the link to one's tickets: (the page's CSRF token, the emailed link's path)."""
    csrf = csrf_from((await client.get("/my")).text)
    await client.post("/my", data={"email": email, "_csrf_token": csrf})
    message = (
        await OutboxMessage.select(OutboxMessage.context)
        .where(OutboxMessage.kind == "my_tickets")
        .first()
        .output(load_json=True)
        .run()
    )
    return csrf, message["context"]["link"].removeprefix(BASE)


async def test_my_link_is_single_use_and_lists_the_tickets(client: httpx.AsyncClient) -> None:
    program = await make_program(title="Kelas Kepemimpinan")
    result = await register_participant(
        program["slug"], person(1, full_name=HOSTILE), base_url=BASE
    )
    csrf, path = await _ask_for_my_link(client, "budi1@example.id")
    assert (await client.get("/my/tickets", follow_redirects=False)).status_code == 303
    # Opening the emailed link (GET, as a mail scanner would) uses nothing up.
    for _ in range(2):
        shown = await client.get(path, follow_redirects=False)
        assert shown.status_code == 200 and f'action="{path}"' in shown.text
        assert shown.headers["cache-control"] == "no-store"
    assert (await client.post(path, follow_redirects=False)).status_code == 403  # no CSRF token
    opened = await client.post(
        path, data={"_csrf_token": csrf_from(shown.text)}, follow_redirects=False
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/my/tickets"
    tickets = await client.get("/my/tickets")
    assert tickets.status_code == 200
    assert f'href="/tickets/{result.code}"' in tickets.text
    assert "Kelas Kepemimpinan" in tickets.text and "Terkonfirmasi" in tickets.text
    assert tickets.headers["cache-control"] == "no-store"
    assert tickets.headers["x-robots-tag"] == "noindex" and 'hx-history="false"' in tickets.text
    again = await client.get(path, follow_redirects=False)
    assert again.status_code == 410 and "kedaluwarsa" in again.text
    reused = await client.post(path, data={"_csrf_token": csrf}, follow_redirects=False)
    assert reused.status_code == 410
    assert (await client.get("/my/" + "x" * 40)).status_code == 410


async def test_my_link_gives_a_fresh_session_id(client: httpx.AsyncClient, app: Any) -> None:
    """Opening the emailed link grants the session a right (seeing tickets): an id planted
    before (session fixation) is deleted, not promoted."""
    await register_participant((await make_program())["slug"], person(2), base_url=BASE)
    planted = "b" * 64
    store = app.stores.get("sessions")
    await store.set(planted, b'{"visited": true}', expires_in=600)
    client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    _, path = await _ask_for_my_link(client, "budi2@example.id")
    shown = await client.get(path)
    opened = await client.post(
        path, data={"_csrf_token": csrf_from(shown.text)}, follow_redirects=False
    )
    assert opened.status_code == 303
    issued = set_cookie_value(opened)
    assert issued and issued not in (planted, "null")
    assert await store.get(planted) is None  # the planted id is gone
    assert (await client.get("/my/tickets", follow_redirects=False)).status_code == 200
    attacker = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    attacker.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    async with attacker:
        assert (await attacker.get("/my/tickets", follow_redirects=False)).status_code == 303


# --------------------------------------------------------------------------- staff


async def _staff_client(
    client: httpx.AsyncClient, role: str = "organiser", **kwargs: Any
) -> dict[str, Any]:
    user = await make_staff(role, **kwargs)
    await sign_in(client, user["email"])
    return user


async def test_staff_page_lists_searches_and_pages(client: httpx.AsyncClient) -> None:
    organiser = await _staff_client(client)
    program = await make_program(organiser=organiser, capacity=30)
    for n in range(1, 28):
        await register_participant(program["slug"], person(n), base_url=BASE)
    await register_participant(program["slug"], person(99, full_name=HOSTILE), base_url=BASE)
    base = f"/manage/programs/{program['slug']}/registrations"
    page = await client.get(base)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and 'hx-history="false"' in page.text
    assert "Halaman 1 dari 2" in page.text and "budi1@example.id" in page.text
    assert "<script>alert(1)</script>" not in page.text
    second = await client.get(base + "?page=2", headers={"HX-Request": "true"})
    assert second.status_code == 200 and second.text.lstrip().startswith("<section")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in second.text
    found = await client.get(base + "?q=budi7%40")
    assert "budi7@example.id" in found.text and "budi8@example.id" not in found.text
    by_phone = await client.get(base + "?q=0812 3007")
    assert "budi7@example.id" in by_phone.text and "budi8@example.id" not in by_phone.text
    none = await client.get(base + "?status=cancelled")
    assert "Tidak ada pendaftaran yang cocok." in none.text
    odd = await client.get(base + "?page=abc&status=<x>&q=" + "%" * 300)
    assert odd.status_code == 200
    views = await AuditLog.count().where(AuditLog.action == "registrations.view").run()
    assert views == 6


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
async def test_staff_page_and_export_roles(
    client: httpx.AsyncClient, role: str, own: bool, expected: int
) -> None:
    user = await _staff_client(client, role)
    program = await make_program(organiser=user if own else await make_staff("organiser"))
    await register_participant(program["slug"], person(1), base_url=BASE)
    base = f"/manage/programs/{program['slug']}/registrations"
    for path in (base, base + ".csv"):
        response = await client.get(path)
        assert response.status_code == expected, path
        if expected != 200:
            assert "budi1@example.id" not in response.text


async def test_staff_pages_need_sign_in(client: httpx.AsyncClient) -> None:
    program = await make_program()
    response = await client.get(
        f"/manage/programs/{program['slug']}/registrations", follow_redirects=False
    )
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"].startswith("/login")


async def test_staff_cancel_promotes_and_manual_promotion(client: httpx.AsyncClient) -> None:
    from youth_hub.catalog.tables import Program

    organiser = await _staff_client(client)
    program = await make_program(organiser=organiser, capacity=1, waitlist_limit=5)
    seated = await register_participant(program["slug"], person(1), base_url=BASE)
    waiting = [
        await register_participant(program["slug"], person(n), base_url=BASE) for n in (2, 3)
    ]
    base = f"/manage/programs/{program['slug']}/registrations"
    page = await client.get(base)
    csrf = csrf_from(page.text)
    ids = {
        r["code"]: r["id"]
        for r in await Registration.select(Registration.id, Registration.code).run()
    }
    no_csrf = await client.post(
        f"{base}/{ids[seated.code]}/cancel", data={}, follow_redirects=False
    )
    assert no_csrf.status_code == 403
    cancel = await client.post(
        f"{base}/{ids[seated.code]}/cancel",
        data={"_csrf_token": csrf, "q": "", "status": "", "page": "1"},
        follow_redirects=False,
    )
    assert cancel.status_code == 303 and cancel.headers["location"] == base
    statuses = {
        r["code"]: r["status"]
        for r in await Registration.select(Registration.code, Registration.status).run()
    }
    assert statuses == {
        seated.code: "cancelled",
        waiting[0].code: "confirmed",
        waiting[1].code: "waitlisted",
    }
    # no free seat: an honest refusal
    refused = await client.post(
        f"{base}/{ids[waiting[1].code]}/promote",
        data={"_csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 200 and "Tidak ada kursi kosong" in refused.text
    await Program.update({Program.capacity: 2}).where(Program.id == program["id"]).run()
    promoted = await client.post(
        f"{base}/{ids[waiting[1].code]}/promote",
        data={"_csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert promoted.status_code == 200 and "sekarang mendapat kursi" in promoted.text
    assert promoted.text.lstrip().startswith("<section")
    actions = {r["action"] for r in await AuditLog.select(AuditLog.action).run()}
    assert {"registration.cancel", "registration.promote"} <= actions


async def test_another_organiser_cannot_act_by_url(client: httpx.AsyncClient) -> None:
    user = await _staff_client(client)
    program = await make_program(organiser=await make_staff("organiser"))
    result = await register_participant(program["slug"], person(1), base_url=BASE)
    reg = await Registration.select(Registration.id).first().run()
    own = await make_program(organiser=user)  # their own program, another's registration id
    csrf = csrf_from((await client.get("/my")).text)
    for slug in (program["slug"], own["slug"]):
        response = await client.post(
            f"/manage/programs/{slug}/registrations/{reg['id']}/cancel",
            data={"_csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 404
    row = (
        await Registration.select(Registration.status)
        .where(Registration.code == result.code)
        .first()
        .run()
    )
    assert row["status"] == "confirmed"


async def test_csv_export_is_excel_ready_neutralised_and_audited(
    client: httpx.AsyncClient,
) -> None:
    admin = await _staff_client(client, "dinporapar")
    program = await make_program()
    await register_participant(
        program["slug"],
        person(
            1, full_name='=HYPERLINK("http://evil","klik")', school="@SUM(A1:A9)", village="-2+3"
        ),
        base_url=BASE,
    )
    await register_participant(program["slug"], person(2, full_name="ꦱꦸꦒꦶꦪꦺꦴ 👩🏽‍🎓"), base_url=BASE)
    response = await client.get(f"/manage/programs/{program['slug']}/registrations.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, first, second = rows[0], rows[1], rows[2]
    cell = dict(zip(header, first, strict=True))
    assert cell["full_name"] == '\'=HYPERLINK("http://evil","klik")'
    assert cell["school"] == "'@SUM(A1:A9)" and cell["village"] == "'-2+3"
    assert cell["phone"] == "'+6281230010001"  # a leading + would be read as a formula
    assert dict(zip(header, second, strict=True))["full_name"] == "ꦱꦸꦒꦶꦪꦺꦴ 👩🏽‍🎓"
    for row in rows[1:]:
        assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in row)
    audit = (
        await AuditLog.select(AuditLog.action, AuditLog.actor, AuditLog.detail)
        .where(AuditLog.action == "registrations.export")
        .output(load_json=True)
        .run()
    )
    assert audit == [
        {
            "action": "registrations.export",
            "actor": admin["id"],
            "detail": {"format": "csv", "rows": 2, "status": ""},
        }
    ]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+62812", "'+62812"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Budi", "Budi"),
        ("", ""),
        (None, ""),
        (3, "3"),
        ("a=b", "a=b"),
    ],
)
def test_cell_neutralisation(value: Any, expected: str) -> None:
    assert neutralise_cell(value) == expected


@pytest.mark.parametrize(
    "extra",
    [
        {"full_name": "x" * 10_000},
        {"full_name": "Budi\x00Santoso", "village": "a\r\nb"},
        {"birth_date": "0000-00-00", "phone": "+62" + "8" * 40, "gender": "<b>"},
        {
            "kecamatan": "{{7*7}}",
            "guardian_consent": "perhaps",
            "form_token": "bad token with spaces",
        },
    ],
)
async def test_hostile_form_input_is_a_422_never_a_5xx(
    client: httpx.AsyncClient, extra: dict[str, str]
) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    response = await _submit(
        client,
        program,
        {**person(1), "form_token": token, **extra},
        csrf,
        extra.get("form_token", token),
    )
    assert response.status_code == 422, response.text[:300]
    assert "Traceback" not in response.text and 'aria-invalid="true"' in response.text
    assert await Registration.count().run() == 0


async def test_repeated_form_keys_and_odd_bodies_are_refused_cleanly(
    client: httpx.AsyncClient,
) -> None:
    program = await make_program()
    _html, csrf, token = await _form(client, program)
    url = f"/programs/{program['slug']}/register"
    repeated = await client.post(
        url,
        content=f"_csrf_token={csrf}&form_token={token}&email=a%40b.id&email=c%40d.id",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert 400 <= repeated.status_code < 500
    garbage = await client.post(
        url,
        content=b"\xff\xfe\x00garbage",
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": csrf},
        follow_redirects=False,
    )
    assert 400 <= garbage.status_code < 500
    assert await Registration.count().run() == 0
