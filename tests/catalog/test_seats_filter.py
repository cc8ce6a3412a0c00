"""The catalogue's "seats left" filter (`seats=1`): pages, fragment, API and bad values."""

from __future__ import annotations

from typing import Any

from tests.factories import make_program
from youth_hub.catalog.tables import Program

HTMX = {"HX-Request": "true"}


async def _full(title: str, *, capacity: int = 5) -> dict[str, Any]:
    program = await make_program(title=title, capacity=capacity)
    await Program.update({Program.seats_taken: capacity}).where(Program.id == program["id"]).run()
    return program


async def _setup() -> None:
    await make_program(title="Masih Longgar", capacity=30)
    last = await make_program(title="Sisa Satu", capacity=4)
    await Program.update({Program.seats_taken: 3}).where(Program.id == last["id"]).run()
    await _full("Sudah Penuh")


async def test_api_lists_only_programs_with_a_free_seat(client: Any) -> None:
    await _setup()
    every = (await client.get("/api/v1/programs")).json()
    assert {p["title"] for p in every["items"]} == {"Masih Longgar", "Sisa Satu", "Sudah Penuh"}
    body = (await client.get("/api/v1/programs", params={"seats": "1"})).json()
    assert sorted(p["title"] for p in body["items"]) == ["Masih Longgar", "Sisa Satu"]
    assert body["total"] == 2
    assert all(p["seats_left"] > 0 for p in body["items"])
    off = (await client.get("/api/v1/programs", params={"seats": "0"})).json()
    assert off["total"] == 3


async def test_page_and_fragment_keep_the_filter(client: Any) -> None:
    await _setup()
    page = await client.get("/programs?seats=1")
    assert page.status_code == 200
    assert 'id="f-seats"' in page.text and "checked" in page.text.split('id="f-seats"')[1][:80]
    assert "Hanya yang masih ada kursi" in page.text  # the label, in Indonesian
    assert "Sisa Satu" in page.text and "Sudah Penuh" not in page.text
    fragment = await client.get("/programs?seats=1", headers=HTMX)
    assert "Masih Longgar" in fragment.text and "Sudah Penuh" not in fragment.text
    assert "<html" not in fragment.text


async def test_a_bad_value_is_named_and_ignored(client: Any) -> None:
    await _setup()
    page = await client.get("/programs?seats=mungkin")
    assert page.status_code == 422
    assert (
        '<p class="field-error" id="f-seats-error">Hanya yang masih ada kursi harus ya atau '
        "tidak.</p>" in page.text
    )
    assert 'aria-describedby="f-seats-error"' in page.text
    assert "Sudah Penuh" in page.text  # the bad filter is left out, not guessed
    api = await client.get("/api/v1/programs", params={"seats": "mungkin"})
    assert api.status_code in (400, 422)
    assert api.json()["errors"][0]["field"] == "seats"
