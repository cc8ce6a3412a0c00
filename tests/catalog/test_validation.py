"""Program input rules without a database: a message per field, in the user's language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.catalog.helpers import program_body, tour_body
from youth_hub.catalog import KECAMATAN
from youth_hub.catalog.services import parse_filters, slugify
from youth_hub.catalog.validation import check_program, clean_program
from youth_hub.i18n import language


def errors_of(body: dict[str, Any], partial: bool = False) -> dict[str, str]:
    values, errors = clean_program(body, partial=partial)
    if not partial:
        check_program(values, errors)
    return {e.field: e.message for e in errors.items}


def test_kecamatan_lists_the_eighteen_of_purbalingga_and_lainnya() -> None:
    assert len(KECAMATAN) == 19
    assert KECAMATAN[-1] == "Lainnya"
    assert {"Bobotsari", "Karangreja", "Rembang", "Purbalingga", "Kutasari"} <= set(KECAMATAN)


def test_a_good_body_has_no_errors_and_times_become_aware() -> None:
    values, errors = clean_program(program_body(), partial=False)
    assert not errors, errors.items
    session = values["sessions"][0]
    assert session["starts_at"].tzinfo is not None
    assert values["topics"] == ["coding", "teknologi"]


def test_naive_times_are_wib() -> None:
    body = program_body(sessions=[{"starts_at": "2030-01-05T09:00", "ends_at": "2030-01-05T12:00"}])
    values, errors = clean_program(body, partial=False)
    assert not errors
    assert values["sessions"][0]["starts_at"] == datetime(2030, 1, 5, 2, 0, tzinfo=UTC)


def test_required_fields_are_named_in_indonesian_by_default() -> None:
    with language("id"):
        found = errors_of({"kind": "workshop"})
    assert found["title"] == "Judul wajib diisi."
    assert found["capacity"] == "Kapasitas wajib diisi."
    assert found["kecamatan"] == "Kecamatan wajib diisi."


def test_messages_in_english_when_asked() -> None:
    with language("en"):
        found = errors_of({"kind": "workshop"})
    assert found["title"] == "Title is required."


def test_ranges_and_formats_each_get_their_message() -> None:
    with language("id"):
        found = errors_of(
            program_body(
                title="x" * 161,
                kind="concert",
                capacity=0,
                price_idr=100_000_001,
                age_min=9,
                age_max=100,
                latitude=91,
                longitude="east",
                kecamatan="Jakarta Selatan",
                topics=["Bad Topic!"],
                sessions=[
                    {"starts_at": "2030-01-05T09:00", "ends_at": "2030-01-05T08:00"},
                    {"starts_at": "tomorrow", "ends_at": "2030-02-30T10:00"},
                ],
            )
        )
    assert "160" in found["title"]
    assert "jenis program" in found["kind"]
    assert found["capacity"] == "Kapasitas harus antara 1 dan 100.000."
    assert found["price_idr"] == "Harga (Rp) harus antara 0 dan 100.000.000."
    assert "Usia minimal" in found["age_min"] and "Usia maksimal" in found["age_max"]
    assert "Lintang" in found["latitude"] and "Bujur" in found["longitude"]
    assert "kecamatan" in found["kecamatan"].lower()
    assert "Topik" in found["topics"]
    assert found["sessions[0].ends_at"] == "Sesi 1: waktu selesai harus setelah waktu mulai."
    assert found["sessions[1].starts_at"].startswith("Sesi 2: Mulai")
    assert found["sessions[1].ends_at"].startswith("Sesi 2: Selesai")  # 30 February


def test_min_age_above_max_and_registration_window() -> None:
    body = program_body(
        age_min=25,
        age_max=18,
        registration_opens_at="2030-01-10T00:00",
        registration_closes_at="2030-01-01T00:00",
    )
    found = errors_of(body)
    assert "age_max" in found
    assert "registration_closes_at" in found


def test_registration_must_close_before_the_program_ends() -> None:
    body = program_body(registration_closes_at="2099-01-01T00:00")
    assert "registration_closes_at" in errors_of(body)


def test_one_coordinate_without_the_other() -> None:
    assert "longitude" in errors_of(program_body(latitude=-7.38))


def test_too_many_topics_and_sessions() -> None:
    found = errors_of(program_body(topics=[f"t{i}" for i in range(11)]))
    assert "topics" in found
    one = program_body()["sessions"][0]
    assert "sessions" in errors_of(program_body(sessions=[one] * 61))


def test_wrong_types_are_field_errors_not_exceptions() -> None:
    found = errors_of(
        {
            "kind": 3,
            "title": ["a"],
            "capacity": True,
            "price_idr": 1.5,
            "topics": "ok, fine",
            "sessions": "monday",
            "latitude": True,
            "kecamatan": {"x": 1},
            "age_min": "ten",
        }
    )
    assert {
        "kind",
        "title",
        "capacity",
        "price_idr",
        "sessions",
        "latitude",
        "kecamatan",
        "age_min",
    } <= set(found)
    assert "topics" not in found  # a comma-separated string is how the form sends them


def test_rupiah_as_people_type_it() -> None:
    for typed in ("150000", "150.000", "Rp 150.000", "Rp150.000,-"):
        values, errors = clean_program({"price_idr": typed}, partial=True)
        assert not errors and values["price_idr"] == 150_000, typed


def test_control_characters_and_lone_surrogates_are_refused() -> None:
    assert "title" in errors_of(program_body(title="Kelas\x00Coding"))
    assert "title" in errors_of(program_body(title="Kelas \ud800"))
    values, errors = clean_program({"description": "baris 1\r\nbaris 2\tok"}, partial=True)
    assert not errors and values["description"] == "baris 1\nbaris 2\tok"


def test_hostile_text_is_kept_as_written() -> None:
    hostile = '<script>alert(1)</script> {{7*7}} =HYPERLINK("x") ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉'
    values, errors = clean_program({"title": hostile, "summary": hostile}, partial=True)
    assert not errors
    assert values["title"] == hostile and values["summary"] == hostile


def test_tour_stops_get_their_day_from_the_date() -> None:
    values, errors = clean_program(tour_body(), partial=False)
    assert not errors, errors.items
    assert [s["day"] for s in values["sessions"]] == [1, 1, 2]


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "kind",
                "title",
                "summary",
                "topics",
                "kecamatan",
                "latitude",
                "longitude",
                "capacity",
                "price_idr",
                "age_min",
                "age_max",
                "sessions",
                "registration_opens_at",
                "waitlist_limit",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=50),
            st.lists(st.text(max_size=5), max_size=3),
            st.lists(
                st.dictionaries(
                    st.sampled_from(["starts_at", "ends_at", "day", "id"]),
                    st.one_of(st.text(max_size=20), st.integers()),
                ),
                max_size=2,
            ),
        ),
    )
)
def test_any_input_gives_values_or_field_errors_never_an_exception(body: dict[str, Any]) -> None:
    values, errors = clean_program(body, partial=True)
    check_program({**values}, errors)
    for error in errors.items:
        assert error.field and error.message


def test_slugs_are_ascii_and_never_empty() -> None:
    assert slugify("Kelas Coding: Membuat Website Pertamamu!") == (
        "kelas-coding-membuat-website-pertamamu"
    )
    assert slugify("Café Über Straße") == "cafe-uber-strasse"
    assert slugify("ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉") == "program"
    assert len(slugify("kata " * 100)) <= 80


@given(st.text(max_size=200))
def test_any_title_gives_a_url_safe_slug(title: str) -> None:
    slug = slugify(title)
    assert slug and len(slug) <= 80
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug)
    assert not slug.startswith("-") and not slug.endswith("-")


def test_filters_keep_good_values_and_name_bad_ones() -> None:
    filters, raw = parse_filters(
        kind="tour",
        q=" owabong ",
        topic="Wisata-Edukatif",
        kecamatan="bojongsari",
        month="2030-01",
        free="1",
        page="2",
    )
    assert not raw.errors
    assert (
        filters.kind,
        filters.q,
        filters.topic,
        filters.kecamatan,
        filters.month,
        filters.free,
        filters.page,
    ) == ("tour", "owabong", "wisata-edukatif", "Bojongsari", (2030, 1), True, 2)
    with language("id"):
        filters, raw = parse_filters(
            kind="concert",
            q="x" * 101,
            topic="<b>",
            kecamatan="Bandung",
            month="2030-13",
            free="maybe",
            page="0",
        )
    assert set(raw.errors) == {"kind", "q", "topic", "kecamatan", "month", "free", "page"}
    assert raw.errors["month"] == "Bulan harus berformat tahun-bulan, misalnya 2026-12."
    assert filters.kind is None and filters.page == 1
