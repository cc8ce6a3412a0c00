"""Public pages: home, catalogue (page or htmx fragment), program page; languages; escaping;
queries per page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.catalog.helpers import count_queries, in_days, staff_with_token, tour_body
from tests.factories import make_program
from youth_hub.catalog.tables import Program

HOSTILE = "<script>alert(1)</script> {{7*7}} =SUM(A1) ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉"
HTMX = {"HX-Request": "true"}


async def test_home_shows_upcoming_programs_of_each_kind(client: Any) -> None:
    await make_program(title="Kelas Coding", kind="workshop")
    await make_program(title="Klinik Futsal", kind="sport")
    await make_program(title="Wisata Owabong", kind="tour", price_idr=150000)
    await make_program(title="Draf Rahasia", status="draft")
    await make_program(title="Sudah Lewat", starts_at=in_days(-20))
    response = await client.get("/")
    assert response.status_code == 200
    html = response.text
    for title in ("Kelas Coding", "Klinik Futsal", "Wisata Owabong"):
        assert title in html
    assert "Draf Rahasia" not in html and "Sudah Lewat" not in html
    for label in ("Lokakarya", "Olahraga Akademik", "Wisata Edukatif", "Rp 150.000", "Gratis"):
        assert label in html
    assert "/static/css/catalog.css" in html


async def test_catalogue_page_and_fragment(client: Any) -> None:
    await make_program(title="Kelas Coding", kind="workshop")
    await make_program(title="Wisata Owabong", kind="tour")
    page = await client.get("/programs")
    assert page.status_code == 200 and "HX-Request" in page.headers["vary"]
    assert page.text.startswith("<!doctype html>")
    assert 'hx-trigger="change, keyup changed delay:400ms from:input[name=q]"' in page.text
    assert 'hx-target="#results"' in page.text and 'hx-push-url="true"' in page.text
    assert 'id="results"' in page.text

    fragment = await client.get("/programs?kind=tour", headers=HTMX)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["vary"]
    assert fragment.text.lstrip().startswith('<section id="results"')
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert "Wisata Owabong" in fragment.text and "Kelas Coding" not in fragment.text

    boosted = await client.get("/programs", headers={**HTMX, "HX-Boosted": "true"})
    assert "<!doctype html>" in boosted.text
    restore = await client.get("/programs", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<!doctype html>" in restore.text


async def test_filters_stay_in_the_form_and_pager_links(client: Any) -> None:
    for i in range(14):
        await make_program(title=f"Kelas {i:02d}", kind="workshop", starts_at=in_days(1 + i))
    page = await client.get("/programs", params={"kind": "workshop", "q": "kelas"})
    assert 'value="kelas"' in page.text
    assert '<option value="workshop" selected>' in page.text
    assert "14 program ditemukan" in page.text
    assert "Kelas 11" in page.text and "Kelas 12" not in page.text  # 12 per page
    assert "/programs?kind=workshop&amp;q=kelas&amp;page=2" in page.text
    second = await client.get("/programs", params={"kind": "workshop", "q": "kelas", "page": "2"})
    assert "Kelas 12" in second.text and "Kelas 13" in second.text


async def test_bad_filters_answer_422_naming_them(client: Any) -> None:
    await make_program(title="Kelas Coding")
    response = await client.get("/programs", params={"month": "2026-13", "kind": "party"})
    assert response.status_code == 422
    assert "Bulan harus berformat" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Kelas Coding" in response.text  # the other filters still work
    fragment = await client.get("/programs", params={"month": "bad"}, headers=HTMX)
    assert fragment.status_code == 422 and "Bulan harus berformat" in fragment.text


async def test_hostile_query_strings_never_500(client: Any) -> None:
    for query in (
        "q=%00",
        "q=%ED%A0%80",
        "q=%25%27%22--",
        "page=99999999999999999999",
        "page=abc",
        "month=9999-99",
        "kecamatan=%3Cscript%3E",
        "free=%FF",
        "topic=" + "a" * 5000,
        "q=" + "x" * 5000,
        "kind=tour&kind=sport",
    ):
        response = await client.get(f"/programs?{query}")
        assert response.status_code in (200, 422), (query, response.status_code)
        api = await client.get(f"/api/v1/programs?{query}")
        assert api.status_code in (200, 400, 422), (query, api.status_code)
    assert (await client.get("/programs/%00")).status_code == 404
    assert (await client.get("/programs/" + "a" * 3000)).status_code == 404


async def test_language_switch_and_it_sticks(client: Any) -> None:
    await make_program(title="Wisata Owabong", kind="tour")
    indonesian = await client.get("/programs")
    assert "Wisata Edukatif" in indonesian.text and 'lang="id"' in indonesian.text
    english = await client.get("/programs?lang=en")
    assert "Educational tourism" in english.text and 'lang="en"' in english.text
    assert "Program catalogue" in english.text
    again = await client.get("/")
    assert "Educational tours" in again.text and "Free" in again.text


async def test_hostile_strings_are_shown_escaped(client: Any) -> None:
    program = await make_program(title=HOSTILE, topics=("coding",))
    await (
        Program.update(
            {Program.summary: HOSTILE, Program.description: HOSTILE, Program.venue: HOSTILE}
        )
        .where(Program.id == program["id"])
        .run()
    )
    for path, headers in (
        ("/", {}),
        ("/programs", {}),
        ("/programs", HTMX),
        (f"/programs/{program['slug']}", {}),
    ):
        html = (await client.get(path, headers=headers)).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "{{7*7}}" in html and ">49" not in html and " 49 " not in html, path
        assert "ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉" in html, path


async def test_program_page_shows_what_a_participant_needs(client: Any) -> None:
    program = await make_program(
        title="Klinik Futsal",
        kind="sport",
        price_idr=150000,
        age_min=13,
        age_max=18,
        capacity=10,
        sessions=2,
        starts_at=datetime(2030, 1, 5, 2, 0, tzinfo=UTC),
    )
    await (
        Program.update(
            {Program.seats_taken: 4, Program.latitude: -7.3887, Program.longitude: 109.3637}
        )
        .where(Program.id == program["id"])
        .run()
    )
    html = (await client.get(f"/programs/{program['slug']}")).text
    assert "Rp 150.000" in html
    assert "13 sampai 18 tahun" in html
    assert "6 dari 10" in html  # seats left of capacity
    assert "Olahraga Akademik" in html
    assert "Sab, 5 Jan 2030, 09.00 WIB" in html  # 02:00 UTC in WIB
    assert "openstreetmap.org/?mlat=-7.38870&amp;mlon=109.36370" in html
    assert f'href="/programs/{program["slug"]}/register"' in html and ">Daftar<" in html
    assert "Jadwal" in html and "Session 2" in html
    english = (await client.get(f"/programs/{program['slug']}?lang=en")).text
    assert ">Register<" in english and "Academic sports" in english


async def test_program_page_without_coordinates_links_a_map_search(client: Any) -> None:
    program = await make_program(title="Kelas Coding", kecamatan="Bobotsari")
    html = (await client.get(f"/programs/{program['slug']}")).text
    search = "openstreetmap.org/search?query=Pendopo%20Dipokusumo%2C%20Bobotsari%2C%20Purbalingga"
    assert search in html


async def test_tour_page_shows_the_itinerary_by_day(client: Any) -> None:
    _, office = await staff_with_token("dinporapar")
    created = (
        await client.post("/api/v1/programs", json=tour_body(publish=True), headers=office)
    ).json()
    html = (await client.get(f"/programs/{created['slug']}")).text
    assert "Rencana perjalanan" in html
    assert "Hari ke-1" in html and "Hari ke-2" in html
    day1 = html.index("Hari ke-1")
    day2 = html.index("Hari ke-2")
    assert day1 < html.index("Owabong", day1) < day2 < html.index("Goa Lawa")
    assert html.count("Titik presensi") == 2


async def test_draft_and_cancelled_pages(client: Any) -> None:
    draft = await make_program(title="Draf", status="draft")
    assert (await client.get(f"/programs/{draft['slug']}")).status_code == 404
    cancelled = await make_program(title="Batal", status="cancelled")
    html = (await client.get(f"/programs/{cancelled['slug']}")).text
    assert "dibatalkan" in html and "/register" not in html


async def test_registration_window_on_the_page(client: Any) -> None:
    later = await make_program(title="Nanti", registration_opens_at=in_days(2))
    html = (await client.get(f"/programs/{later['slug']}")).text
    assert "Pendaftaran dibuka" in html and "/register" not in html
    closed = await make_program(title="Tutup", registration_closes_at=in_days(-1))
    assert "Pendaftaran sudah ditutup" in (await client.get(f"/programs/{closed['slug']}")).text


async def _queries_for(client: Any, path: str, headers: dict[str, str] | None = None) -> int:
    with count_queries() as seen:
        response = await client.get(path, headers=headers or {})
    assert response.status_code == 200
    return len(seen)


async def test_queries_per_page_do_not_grow_with_programs(client: Any) -> None:
    async def add(count: int) -> None:
        for i in range(count):
            await make_program(
                title=f"Program {i}",
                kind=("workshop", "sport", "tour")[i % 3],
                topics=("coding", "futsal"),
                starts_at=in_days(1 + i % 40),
            )

    await add(10)
    paths = ["/", "/programs", "/api/v1/programs", "/programs?topic=coding&free=1&q=program"]
    few = {p: await _queries_for(client, p) for p in paths}
    few["fragment"] = await _queries_for(client, "/programs", HTMX)
    await add(90)
    many = {p: await _queries_for(client, p) for p in paths}
    many["fragment"] = await _queries_for(client, "/programs", HTMX)
    assert few == many
    assert many["/programs"] == 1  # the page, organiser names, topics and total in one
    assert many["/"] == 1


async def test_program_page_queries_do_not_grow_with_sessions(client: Any) -> None:
    short = await make_program(title="Pendek", sessions=1, topics=("a",))
    long = await make_program(title="Panjang", sessions=30, topics=("a", "b", "c", "d"))
    assert await _queries_for(client, f"/programs/{short['slug']}") == 1  # sessions included
    assert await _queries_for(client, f"/programs/{long['slug']}") == 1


async def test_pages_are_light(client: Any) -> None:
    for i in range(12):
        await make_program(
            title=f"Program dengan judul yang cukup panjang {i}",
            topics=("coding", "leadership", "teknologi"),
        )
    for path in ("/", "/programs"):
        html = (await client.get(path)).text
        assert len(html.encode()) < 60_000, (path, len(html))
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
        assert " style=" not in html
