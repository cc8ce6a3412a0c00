"""Calendar files: the right wall-clock times in WIB, an alarm, stable UIDs, updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from youth_hub.tickets import program_ics

WIB = ZoneInfo("Asia/Jakarta")
URL = "https://youthhub.purbalinggakab.go.id/tickets/abcDEF123456789_-x"


def program(**extra: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "slug": "kelas-kepemimpinan",
        "kind": "workshop",
        "title": "Kelas Kepemimpinan",
        "summary": 'Belajar memimpin; dengan koma, titik dan "kutipan"',
        "venue": "Pendopo Dipokusumo",
        "kecamatan": "Purbalingga",
        "latitude": -7.3886,
        "longitude": 109.3634,
        "status": "published",
        "updated_at": datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
        **extra,
    }


def sessions() -> list[dict[str, Any]]:
    # 08:00–11:00 WIB on 5 Dec, then 19:30–21:00 WIB on 12 Dec (crosses midnight in UTC? no:
    # 12:30–14:00 UTC), then 06:00 WIB on 1 Jan 2027 = 23:00 UTC on 31 Dec 2026
    return [
        {
            "id": 11,
            "position": 0,
            "title": "Sesi 1",
            "location": "Aula",
            "starts_at": datetime(2026, 12, 5, 1, 0, tzinfo=UTC),
            "ends_at": datetime(2026, 12, 5, 4, 0, tzinfo=UTC),
            "day": None,
        },
        {
            "id": 13,
            "position": 2,
            "title": "Sesi 3",
            "location": "",
            "starts_at": datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
            "ends_at": datetime(2027, 1, 1, 1, 0, tzinfo=UTC),
            "day": None,
        },
        {
            "id": 12,
            "position": 1,
            "title": "Sesi 2",
            "location": "Lapangan",
            "starts_at": datetime(2026, 12, 12, 12, 30, tzinfo=UTC),
            "ends_at": datetime(2026, 12, 12, 14, 0, tzinfo=UTC),
            "day": None,
        },
    ]


def events(ics: bytes) -> list[Any]:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


def test_one_event_per_session_at_the_right_wib_time() -> None:
    ics = program_ics(program(), sessions(), URL, "id")
    found = events(ics)
    assert [str(e["summary"]) for e in found] == [
        "Kelas Kepemimpinan — Sesi 1",
        "Kelas Kepemimpinan — Sesi 2",
        "Kelas Kepemimpinan — Sesi 3",
    ]
    starts = [e.decoded("dtstart") for e in found]
    assert starts == [
        datetime(2026, 12, 5, 8, 0, tzinfo=WIB),
        datetime(2026, 12, 12, 19, 30, tzinfo=WIB),
        datetime(2027, 1, 1, 6, 0, tzinfo=WIB),
    ]
    assert [s.utcoffset() for s in starts] == [timedelta(hours=7)] * 3
    assert found[2].decoded("dtend") == datetime(2027, 1, 1, 8, 0, tzinfo=WIB)
    # the wall-clock time is written with its zone, and the zone is defined in the file
    assert b"DTSTART;TZID=Asia/Jakarta:20261205T080000" in ics
    assert b"DTSTART;TZID=Asia/Jakarta:20270101T060000" in ics
    calendar = Calendar.from_ical(ics)
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Asia/Jakarta"]
    assert calendar.get_missing_tzids() == set()


def test_each_event_has_place_description_link_and_an_alarm_two_hours_before() -> None:
    for event in events(program_ics(program(), sessions(), URL, "id")):
        assert str(event["url"]) == URL
        assert URL in str(event["description"])
        assert "Belajar memimpin" in str(event["description"])
        assert "Pendopo Dipokusumo" in str(event["location"])
        assert event["status"] == "CONFIRMED"
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert alarms[0].decoded("trigger") == -timedelta(hours=2)
        assert alarms[0]["action"] == "DISPLAY"
    first = events(program_ics(program(), sessions(), URL, "id"))[0]
    assert str(first["location"]) == "Aula, Pendopo Dipokusumo, Purbalingga"
    assert first.decoded("geo") is not None


def test_uids_are_stable_across_downloads_and_distinct_per_session() -> None:
    one = [str(e["uid"]) for e in events(program_ics(program(), sessions(), URL, "id"))]
    two = [str(e["uid"]) for e in events(program_ics(program(), sessions(), URL, "en"))]
    assert one == two
    assert len(set(one)) == 3
    assert all(uid.endswith("@youthhub.purbalinggakab.go.id") for uid in one)


def test_a_change_raises_the_sequence_so_calendars_update() -> None:
    before = events(program_ics(program(), sessions(), URL, "id"))[0]
    moved = sessions()
    moved[0]["starts_at"] += timedelta(hours=1)
    after = events(
        program_ics(program(updated_at=datetime(2026, 11, 20, tzinfo=UTC)), moved, URL, "id")
    )[0]
    assert after["uid"] == before["uid"]
    assert int(after["sequence"]) > int(before["sequence"])
    assert after.decoded("dtstart") == datetime(2026, 12, 5, 9, 0, tzinfo=WIB)


def test_cancelled_ticket_or_program_gives_cancelled_events_without_alarms() -> None:
    for ics in (
        program_ics(
            program(),
            sessions(),
            URL,
            "en",
            status="cancelled",
            changed_at=datetime(2026, 11, 25, tzinfo=UTC),
        ),
        program_ics(program(status="cancelled"), sessions(), URL, "en"),
    ):
        for event in events(ics):
            assert event["status"] == "CANCELLED"
            assert event.walk("VALARM") == []
            assert str(event["summary"]).startswith("Cancelled: ")
    live = int(events(program_ics(program(), sessions(), URL, "en"))[0]["sequence"])
    cancelled_ics = program_ics(
        program(),
        sessions(),
        URL,
        "en",
        status="cancelled",
        changed_at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    cancelled = int(events(cancelled_ics)[0]["sequence"])
    assert cancelled > live


def test_waiting_list_events_are_tentative() -> None:
    for event in events(program_ics(program(), sessions(), URL, "en", status="waitlisted")):
        assert event["status"] == "TENTATIVE"


def test_tour_stops_are_named_by_day_in_the_language() -> None:
    tour = program(kind="tour", title="Wisata Desa")
    stops = [
        {
            "id": 1,
            "position": 0,
            "title": "Desa Wisata Serang",
            "location": "Karangreja",
            "day": 1,
            "starts_at": datetime(2026, 12, 5, 0, 30, tzinfo=UTC),
            "ends_at": datetime(2026, 12, 5, 2, 0, tzinfo=UTC),
        },
        {
            "id": 2,
            "position": 1,
            "title": "Museum Wayang",
            "location": "",
            "day": 2,
            "starts_at": datetime(2026, 12, 6, 2, 0, tzinfo=UTC),
            "ends_at": datetime(2026, 12, 6, 3, 0, tzinfo=UTC),
        },
    ]
    indonesian = [str(e["summary"]) for e in events(program_ics(tour, stops, URL, "id"))]
    assert indonesian == [
        "Wisata Desa — Hari ke-1: Desa Wisata Serang",
        "Wisata Desa — Hari ke-2: Museum Wayang",
    ]
    english = [str(e["summary"]) for e in events(program_ics(tour, stops, URL, "en"))]
    assert english[0] == "Wisata Desa — Day 1: Desa Wisata Serang"
    assert "Tiket Anda" in str(events(program_ics(tour, stops, URL, "id"))[0]["description"])


def test_hostile_text_stays_inside_its_property() -> None:
    hostile = program(
        title="Evil\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:injected",
        summary="{{7*7}} <b>x</b> =cmd|' /C calc'!A0 ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉",
    )
    ics = program_ics(hostile, sessions()[:1], URL, "id")
    found = events(ics)
    assert len(found) == 1
    assert "ꦥꦸꦂꦧꦭꦶꦁꦒ 🎉" in str(found[0]["description"])
    assert b"\r\nSUMMARY:injected" not in ics


def test_one_session_without_title_is_named_after_the_program() -> None:
    one = sessions()[:1]
    one[0]["title"] = ""
    assert str(events(program_ics(program(), one, URL, "id"))[0]["summary"]) == "Kelas Kepemimpinan"


def test_naive_database_times_are_read_as_utc() -> None:
    naive = sessions()[:1]
    naive[0]["starts_at"] = datetime(2026, 12, 5, 1, 0)
    naive[0]["ends_at"] = datetime(2026, 12, 5, 4, 0)
    event = events(program_ics(program(), naive, URL, "id"))[0]
    assert event.decoded("dtstart") == datetime(2026, 12, 5, 8, 0, tzinfo=WIB)
