"""Staff pages under /manage: dashboard, the program form (with and without htmx), publish and
cancel, and what another organiser may not do."""

from __future__ import annotations

from typing import Any

from tests.accounts.helpers import csrf_from, sign_in
from tests.catalog.helpers import as_current, in_days, program_body
from tests.factories import make_program, make_staff
from youth_hub.catalog import services
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.web.formats import display_timezone

HTMX = {"HX-Request": "true"}


def _wib(days: float, hour: int) -> str:
    """A datetime-local value (WIB) `days` from now at `hour`."""
    moment = in_days(days, hour=0).astimezone(display_timezone()).replace(hour=hour, minute=0)
    return moment.strftime("%Y-%m-%dT%H:%M")


def form_data(token: str, **overrides: str) -> dict[str, str]:
    data = {
        "_csrf_token": token,
        "kind": "workshop",
        "title": "Kelas Coding Pemuda",
        "summary": "Belajar membuat website",
        "description": "Empat pertemuan.\n\nBawa laptop.",
        "topics": "coding, teknologi",
        "venue": "Aula Kecamatan Bobotsari",
        "kecamatan": "Bobotsari",
        "latitude": "",
        "longitude": "",
        "capacity": "25",
        "waitlist_limit": "",
        "price_idr": "50.000",
        "age_min": "15",
        "age_max": "25",
        "registration_opens_at": "",
        "registration_closes_at": "",
        "sessions-0-id": "",
        "sessions-0-title": "Pertemuan 1",
        "sessions-0-starts_at": _wib(10, 9),
        "sessions-0-ends_at": _wib(10, 12),
        "sessions-0-location": "Aula",
        "sessions-0-day": "",
        "sessions-0-checkin": "1",
        "action": "save",
    }
    data.update(overrides)
    return data


async def signed_in(client: Any, role: str) -> dict[str, Any]:
    user = await make_staff(role=role)
    await sign_in(client, user["email"])
    return user


async def form_token(client: Any, path: str = "/manage/programs/new") -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text[:300]
    return csrf_from(response.text)


async def test_anonymous_goes_to_sign_in_and_scanner_to_scan(client: Any) -> None:
    response = await client.get("/manage")
    assert response.status_code in (302, 303) and response.headers["location"].startswith("/login")
    assert (await client.get("/manage/programs/new")).status_code in (302, 303)
    await signed_in(client, "scanner")
    response = await client.get("/manage")
    assert response.status_code == 303 and response.headers["location"] == "/scan"
    assert (await client.get("/manage/programs/new")).status_code == 403


async def test_dashboard_lists_own_programs_or_all_for_the_office(client: Any) -> None:
    owner = await make_staff(role="organiser")
    other = await make_staff(role="organiser")
    await make_program(title="Milik Saya", organiser=owner)
    await make_program(title="Milik Orang Lain", organiser=other, status="draft")
    await sign_in(client, owner["email"])
    html = (await client.get("/manage")).text
    assert "Milik Saya" in html and "Milik Orang Lain" not in html
    assert "/manage/programs/program-" in html and "Program baru" in html
    client.cookies.clear()
    office = await make_staff(role="dinporapar")
    await sign_in(client, office["email"])
    html = (await client.get("/manage")).text
    assert "Milik Saya" in html and "Milik Orang Lain" in html


async def test_tours_are_offered_only_to_the_office(client: Any) -> None:
    await signed_in(client, "organiser")
    html = (await client.get("/manage/programs/new")).text
    assert 'value="workshop"' in html and 'value="sport"' in html
    assert 'value="tour"' not in html
    client.cookies.clear()
    await signed_in(client, "dinporapar")
    assert 'value="tour"' in (await client.get("/manage/programs/new?kind=tour")).text


async def test_create_through_the_form(client: Any) -> None:
    user = await signed_in(client, "organiser")
    token = await form_token(client)
    response = await client.post(
        "/manage/programs/new", data=form_data(token), follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/manage/programs/kelas-coding-pemuda/edit?saved=draft"
    row = await Program.select().where(Program.slug == "kelas-coding-pemuda").first().run()
    assert row["organiser"] == user["id"] and row["price_idr"] == 50_000
    assert row["status"] == "draft"
    sessions = await ProgramSession.select().where(ProgramSession.program == row["id"]).run()
    assert len(sessions) == 1 and sessions[0]["checkin"] is True
    edit = await client.get(response.headers["location"])
    assert "Tersimpan." in edit.text and f'value="{_wib(10, 9)}"' in edit.text


async def test_save_and_publish_in_one_go(client: Any) -> None:
    await signed_in(client, "organiser")
    token = await form_token(client)
    response = await client.post(
        "/manage/programs/new", data=form_data(token, action="publish"), follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].endswith("saved=published")
    assert (await Program.select(Program.status).first().run())["status"] == "published"


async def test_invalid_form_is_422_with_messages_next_to_fields(client: Any) -> None:
    await signed_in(client, "organiser")
    token = await form_token(client)
    data = form_data(token, title="", capacity="0", **{"sessions-0-ends_at": _wib(10, 8)})
    response = await client.post("/manage/programs/new", data=data)
    assert response.status_code == 422
    html = response.text
    assert 'id="f-title-error"' in html and "Judul wajib diisi." in html
    assert 'aria-describedby="f-title-error"' in html and 'aria-invalid="true"' in html
    assert "Kapasitas harus antara 1 dan 100.000." in html
    assert 'id="f-sessions-0-ends_at-error"' in html
    assert 'value="Belajar membuat website"' in html  # what was typed is kept
    assert await Program.count().run() == 0


async def test_add_and_remove_session_rows_without_javascript(client: Any) -> None:
    await signed_in(client, "organiser")
    token = await form_token(client)
    response = await client.post(
        "/manage/programs/new", data=form_data(token, action="add_session")
    )
    assert response.status_code == 200 and "<!doctype html>" in response.text
    assert 'name="sessions-1-title"' in response.text
    assert 'value="Pertemuan 1"' in response.text and 'value="Kelas Coding Pemuda"' in response.text
    assert await Program.count().run() == 0  # adding a row saves nothing
    data = form_data(
        token,
        action="remove_session-0",
        **{
            "sessions-1-title": "Pertemuan 2",
            "sessions-1-starts_at": _wib(17, 9),
            "sessions-1-ends_at": _wib(17, 12),
        },
    )
    response = await client.post("/manage/programs/new", data=data)
    assert 'value="Pertemuan 2"' in response.text and 'value="Pertemuan 1"' not in response.text
    assert 'name="sessions-1-title"' not in response.text


async def test_add_session_row_with_htmx_gets_only_the_rows(client: Any) -> None:
    await signed_in(client, "organiser")
    token = await form_token(client)
    response = await client.post(
        "/manage/programs/new", headers=HTMX, data=form_data(token, action="add_session")
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<fieldset id="sessions"')
    assert "<html" not in response.text and 'name="sessions-1-title"' in response.text
    assert "autofocus" in response.text  # the new row takes the focus
    assert "no-store" in response.headers["cache-control"]


async def test_edit_keeps_session_ids_and_publish_cancel(client: Any) -> None:
    user = await signed_in(client, "organiser")
    created = await services.create_program(as_current(user), program_body())
    session = (
        await ProgramSession.select().where(ProgramSession.program == created["id"]).first().run()
    )
    path = f"/manage/programs/{created['slug']}/edit"
    html = (await client.get(path)).text
    assert f'name="sessions-0-id" value="{session["id"]}"' in html
    token = csrf_from(html)
    data = form_data(token, title="Kelas Coding Lanjutan", **{"sessions-0-id": str(session["id"])})
    response = await client.post(path, data=data, follow_redirects=False)
    assert response.status_code == 303
    after = await ProgramSession.select().where(ProgramSession.program == created["id"]).run()
    assert [s["id"] for s in after] == [session["id"]]
    assert (await Program.select(Program.title).first().run())["title"] == "Kelas Coding Lanjutan"

    response = await client.post(
        f"/manage/programs/{created['slug']}/publish",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (await Program.select(Program.status).first().run())["status"] == "published"
    response = await client.post(
        f"/manage/programs/{created['slug']}/cancel",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert (await Program.select(Program.status).first().run())["status"] == "cancelled"


async def test_publishing_without_sessions_shows_the_form_with_the_reason(client: Any) -> None:
    user = await signed_in(client, "organiser")
    created = await services.create_program(as_current(user), program_body(sessions=[]))
    token = await form_token(client, f"/manage/programs/{created['slug']}/edit")
    response = await client.post(
        f"/manage/programs/{created['slug']}/publish", data={"_csrf_token": token}
    )
    assert response.status_code == 422
    assert "Tambahkan setidaknya satu sesi" in response.text
    assert (await Program.select(Program.status).first().run())["status"] == "draft"


async def test_post_without_csrf_is_refused(client: Any) -> None:
    user = await signed_in(client, "organiser")
    created = await services.create_program(as_current(user), program_body())
    response = await client.post(f"/manage/programs/{created['slug']}/cancel", data={})
    assert response.status_code == 403
    response = await client.post("/manage/programs/new", data=form_data("forged"))
    assert response.status_code == 403
    assert await Program.count().run() == 1
    assert (await Program.select(Program.status).first().run())["status"] == "draft"


async def test_another_organiser_cannot_open_or_change_it(client: Any) -> None:
    owner = await make_staff(role="organiser")
    draft = await services.create_program(as_current(owner), program_body(title="Draf"))
    public = await services.create_program(
        as_current(owner), program_body(title="Terbit", publish=True)
    )
    await signed_in(client, "organiser")
    token = await form_token(client)
    for created in (draft, public):
        slug = created["slug"]
        assert (await client.get(f"/manage/programs/{slug}/edit")).status_code in (403, 404)
        for action in ("edit", "publish", "cancel"):
            response = await client.post(
                f"/manage/programs/{slug}/{action}", data=form_data(token, title="Dibajak")
            )
            assert response.status_code in (403, 404), (slug, action)
        response = await client.post(
            f"/manage/programs/{slug}/edit",
            headers=HTMX,
            data=form_data(token, action="add_session"),
        )
        assert response.status_code in (403, 404)
    rows = await Program.select(Program.title, Program.status).order_by(Program.id).run()
    assert rows == [
        {"title": "Draf", "status": "draft"},
        {"title": "Terbit", "status": "published"},
    ]


async def test_organiser_posting_a_tour_or_an_owner_field_gets_nowhere(client: Any) -> None:
    user = await signed_in(client, "organiser")
    other = await make_staff(role="organiser")
    token = await form_token(client)
    response = await client.post("/manage/programs/new", data=form_data(token, kind="tour"))
    assert response.status_code == 403
    assert await Program.count().run() == 0
    response = await client.post(
        "/manage/programs/new",
        follow_redirects=False,
        data=form_data(token, organiser=str(other["id"])),
    )
    assert response.status_code == 303
    assert (await Program.select(Program.organiser).first().run())["organiser"] == user["id"]


async def test_office_edits_and_publishes_any_program(client: Any) -> None:
    owner = await make_staff(role="organiser")
    created = await services.create_program(as_current(owner), program_body())
    await signed_in(client, "dinporapar")
    token = await form_token(client, f"/manage/programs/{created['slug']}/edit")
    response = await client.post(
        f"/manage/programs/{created['slug']}/publish",
        data={"_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    row = await Program.select().first().run()
    assert row["status"] == "published" and row["organiser"] == owner["id"]


async def test_staff_form_in_english(client: Any) -> None:
    await signed_in(client, "organiser")
    html = (await client.get("/manage/programs/new?lang=en")).text
    assert "New program" in html and "Add a session" in html and "Save as draft" in html
