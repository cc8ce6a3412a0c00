"""Catalogue rules on both databases: ownership, slugs, PATCH semantics, capacity, signals,
listing filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.catalog.helpers import as_current, in_days, program_body, tour_body
from tests.factories import make_program, make_staff
from youth_hub.catalog import services, signals
from youth_hub.catalog.tables import Program, ProgramSession, ProgramTopic
from youth_hub.web.errors import DomainError, ValidationFailed


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """What catalog told other domains (their real listeners are left out here)."""
    record: dict[str, list[Any]] = {"changed": [], "cancelled": []}

    async def changed(program_id: int, changes: dict[str, Any]) -> None:
        record["changed"].append((program_id, changes))

    async def cancelled(program_id: int) -> None:
        record["cancelled"].append(program_id)

    monkeypatch.setattr(signals, "_changed", [changed])
    monkeypatch.setattr(signals, "_cancelled", [cancelled])
    return record


async def organiser() -> Any:
    return as_current(await make_staff(role="organiser"))


async def test_create_stores_program_sessions_topics_and_span(engine: Any) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body(publish=True))
    assert created["status"] == "published" and created["slug"] == "kelas-coding-pemuda"
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["organiser"] == user.id and row["published_at"] is not None
    sessions = await ProgramSession.select().where(ProgramSession.program == row["id"]).run()
    assert len(sessions) == 1
    assert row["first_starts_at"] == sessions[0]["starts_at"]
    assert row["last_ends_at"] == sessions[0]["ends_at"]
    topics = (
        await ProgramTopic.select(ProgramTopic.topic).where(ProgramTopic.program == row["id"]).run()
    )
    assert [t["topic"] for t in topics] == ["coding", "teknologi"]


async def test_a_draft_by_default_and_publishing_needs_a_session(engine: Any) -> None:
    user = await organiser()
    assert (await services.create_program(user, program_body()))["status"] == "draft"
    with pytest.raises(ValidationFailed) as failed:
        await services.create_program(user, program_body(sessions=[], publish=True))
    assert [e.field for e in failed.value.errors] == ["sessions"]
    empty = await services.create_program(user, program_body(title="Kosong", sessions=[]))
    with pytest.raises(ValidationFailed):
        await services.publish_program(user, empty["slug"])
    assert (
        await Program.select(Program.status).where(Program.slug == empty["slug"]).first().run()
    )["status"] == "draft"


async def test_slugs_get_a_suffix_on_clash(engine: Any) -> None:
    user = await organiser()
    slugs = [
        (await services.create_program(user, program_body(title="Kelas Coding")))["slug"]
        for _ in range(3)
    ]
    assert slugs == ["kelas-coding", "kelas-coding-2", "kelas-coding-3"]
    other = await services.create_program(user, program_body(title="ꦥꦸꦂꦧꦭꦶꦁꦒ"))
    assert other["slug"] == "program"


async def test_invalid_input_stores_nothing(engine: Any) -> None:
    user = await organiser()
    with pytest.raises(ValidationFailed):
        await services.create_program(user, program_body(capacity=0))
    assert await Program.count().run() == 0
    assert await ProgramSession.count().run() == 0


async def test_organiser_cannot_create_a_tour_but_the_office_can(engine: Any) -> None:
    with pytest.raises(DomainError) as refused:
        await services.create_program(await organiser(), tour_body())
    assert refused.value.status_code == 403 and refused.value.errors[0].field == "kind"
    assert await Program.count().run() == 0
    office = as_current(await make_staff(role="dinporapar"))
    created = await services.create_program(office, tour_body(publish=True))
    assert created["status"] == "published"


async def test_scanner_may_not_create(engine: Any) -> None:
    scanner = as_current(await make_staff(role="scanner"))
    with pytest.raises(DomainError) as refused:
        await services.create_program(scanner, program_body())
    assert refused.value.status_code == 403


async def test_patch_changes_only_what_is_given_and_ignores_owner(engine: Any) -> None:
    user = await organiser()
    intruder = await make_staff(role="organiser")
    created = await services.create_program(user, program_body())
    await services.update_program(
        user,
        created["slug"],
        {"summary": "Baru", "organiser": intruder["id"], "seats_taken": 99, "slug": "x"},
    )
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["summary"] == "Baru"
    assert row["title"] == "Kelas Coding Pemuda" and row["capacity"] == 20
    assert row["organiser"] == user.id and row["seats_taken"] == 0
    assert row["slug"] == created["slug"]


async def test_another_organiser_gets_404_for_a_draft_403_for_a_public_one(engine: Any) -> None:
    owner, other = await organiser(), await organiser()
    draft = await services.create_program(owner, program_body(title="Draf"))
    public = await services.create_program(owner, program_body(title="Terbit", publish=True))
    for slug, status in ((draft["slug"], 404), (public["slug"], 403)):
        with pytest.raises(DomainError) as refused:
            await services.update_program(other, slug, {"title": "Dibajak", "status": "cancelled"})
        assert refused.value.status_code == status
    titles = {r["title"] for r in await Program.select(Program.title).run()}
    assert titles == {"Draf", "Terbit"}
    assert await services.get_program_detail(draft["slug"], other) is None
    assert await services.get_program_detail(draft["slug"], None) is None
    assert (await services.get_program_detail(draft["slug"], owner))["may_manage"] is True


async def test_office_changes_any_program(engine: Any) -> None:
    owner = await organiser()
    created = await services.create_program(owner, program_body())
    office = as_current(await make_staff(role="dinporapar"))
    changed = await services.update_program(
        office, created["slug"], {"status": "published", "capacity": 30}
    )
    assert changed["status"] == "published"
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["capacity"] == 30 and row["organiser"] == owner.id


async def test_organiser_cannot_turn_a_workshop_into_a_tour(engine: Any) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body())
    with pytest.raises(DomainError) as refused:
        await services.update_program(user, created["slug"], {"kind": "tour"})
    assert refused.value.status_code == 403
    assert (await Program.select(Program.kind).first().run())["kind"] == "workshop"


async def test_capacity_may_not_drop_below_seats_taken(engine: Any) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body(capacity=10, publish=True))
    # registration's conditional update took five seats
    await Program.update({Program.seats_taken: 5}).where(Program.id == created["id"]).run()
    with pytest.raises(ValidationFailed) as failed:
        await services.update_program(user, created["slug"], {"capacity": 4, "summary": "x"})
    assert failed.value.errors[0].field == "capacity" and "5" in failed.value.errors[0].message
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["capacity"] == 10 and row["summary"] != "x" and row["seats_taken"] == 5
    await services.update_program(user, created["slug"], {"capacity": 5})
    row = await Program.select().where(Program.id == created["id"]).first().run()
    assert row["capacity"] == 5 and row["seats_taken"] == 5


async def test_sessions_replace_keeping_named_rows_and_the_span(
    engine: Any, heard: dict[str, Any]
) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body(publish=True))
    old = await ProgramSession.select().where(ProgramSession.program == created["id"]).run()
    kept_id = old[0]["id"]
    start = in_days(30)
    sessions = [
        {
            "id": kept_id,
            "title": "Pertemuan 1 (pindah)",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "location": "Aula",
        },
        {
            "title": "Pertemuan 2",
            "starts_at": (start + timedelta(days=7)).isoformat(),
            "ends_at": (start + timedelta(days=7, hours=2)).isoformat(),
            "location": "Aula",
        },
    ]
    await services.update_program(user, created["slug"], {"sessions": sessions})
    rows = (
        await ProgramSession.select()
        .where(ProgramSession.program == created["id"])
        .order_by(ProgramSession.position)
        .run()
    )
    assert [r["title"] for r in rows] == ["Pertemuan 1 (pindah)", "Pertemuan 2"]
    assert rows[0]["id"] == kept_id
    program = await Program.select().where(Program.id == created["id"]).first().run()
    assert program["first_starts_at"] == start
    assert program["last_ends_at"] == start + timedelta(days=7, hours=2)
    assert heard["changed"] == [(created["id"], {"times": True, "place": False})]


async def test_a_session_id_of_another_program_is_a_new_row(engine: Any) -> None:
    user = await organiser()
    mine = await services.create_program(user, program_body(title="Mine"))
    theirs = await make_program(title="Theirs")
    their_session = (
        await ProgramSession.select().where(ProgramSession.program == theirs["id"]).first().run()
    )
    body = program_body()["sessions"][0] | {"id": their_session["id"], "title": "Sneaky"}
    await services.update_program(user, mine["slug"], {"sessions": [body]})
    untouched = (
        await ProgramSession.select().where(ProgramSession.id == their_session["id"]).first().run()
    )
    assert untouched["title"] == their_session["title"]
    assert untouched["program"] == theirs["id"]


async def test_moving_place_tells_registrants_only_when_published(
    engine: Any, heard: dict[str, Any]
) -> None:
    user = await organiser()
    draft = await services.create_program(user, program_body(title="Draf"))
    await services.update_program(user, draft["slug"], {"venue": "Tempat lain"})
    assert heard["changed"] == []
    public = await services.create_program(user, program_body(title="Terbit", publish=True))
    await services.update_program(user, public["slug"], {"summary": "Ringkasan baru"})
    assert heard["changed"] == []  # nothing that matters to a registrant moved
    await services.update_program(user, public["slug"], {"venue": "GOR Goentoer Darjono"})
    assert heard["changed"] == [(public["id"], {"times": False, "place": True})]


async def test_cancel_tells_registrants_once_and_is_final(
    engine: Any, heard: dict[str, Any]
) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body(publish=True))
    assert (await services.cancel_program(user, created["slug"]))["status"] == "cancelled"
    assert (await services.cancel_program(user, created["slug"]))["status"] == "cancelled"
    assert heard["cancelled"] == [created["id"]]
    with pytest.raises(DomainError) as refused:
        await services.publish_program(user, created["slug"])
    assert refused.value.status_code == 409
    with pytest.raises(DomainError):
        await services.update_program(user, created["slug"], {"title": "Lagi"})
    assert (await Program.select(Program.status).first().run())["status"] == "cancelled"


async def test_a_failing_listener_rolls_the_change_back(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body(publish=True))

    async def broken(program_id: int) -> None:
        raise RuntimeError("messaging is down")

    monkeypatch.setattr(signals, "_cancelled", [broken])
    with pytest.raises(RuntimeError):
        await services.cancel_program(user, created["slug"])
    assert (await Program.select(Program.status).first().run())["status"] == "published"


async def test_bad_status_is_a_field_error(engine: Any) -> None:
    user = await organiser()
    created = await services.create_program(user, program_body())
    with pytest.raises(ValidationFailed) as failed:
        await services.update_program(user, created["slug"], {"status": "finished"})
    assert failed.value.errors[0].field == "status"


# ----------------------------------------------------------------------------- listing


async def test_listing_filters(engine: Any) -> None:
    await make_program(
        title="Kelas Coding Web",
        kind="workshop",
        kecamatan="Bobotsari",
        price_idr=50000,
        topics=("coding",),
        starts_at=in_days(5),
    )
    await make_program(
        title="Futsal Taktik",
        kind="sport",
        kecamatan="Kalimanah",
        topics=("futsal",),
        starts_at=in_days(6),
    )
    await make_program(
        title="Wisata Owabong",
        kind="tour",
        kecamatan="Bojongsari",
        price_idr=150000,
        topics=("wisata",),
        starts_at=in_days(7),
    )
    await make_program(title="Draf Rahasia", status="draft", starts_at=in_days(3))
    await make_program(title="Sudah Lewat", starts_at=in_days(-10))
    await make_program(title="Batal", status="cancelled", starts_at=in_days(4))

    async def titles(**raw: str) -> list[str]:
        filters, parsed = services.parse_filters(**raw)
        assert not parsed.errors
        found = await services.list_published(filters)
        assert found["total"] == len(found["items"])
        return [p["title"] for p in found["items"]]

    assert await titles() == ["Kelas Coding Web", "Futsal Taktik", "Wisata Owabong"]
    assert await titles(kind="sport") == ["Futsal Taktik"]
    assert await titles(q="CODING") == ["Kelas Coding Web"]
    assert await titles(q="summary of futsal") == ["Futsal Taktik"]  # the summary too
    assert await titles(topic="wisata") == ["Wisata Owabong"]
    assert await titles(kecamatan="kalimanah") == ["Futsal Taktik"]
    assert await titles(free="1") == ["Futsal Taktik"]
    assert await titles(q="%") == []  # LIKE wildcards are plain characters
    assert await titles(q="_") == []


async def test_month_filter_counts_in_wib(engine: Any) -> None:
    # 1 January 2031, 05.00 WIB is still 31 December 2030 in UTC.
    early = datetime(2030, 12, 31, 22, 0, tzinfo=UTC)
    await make_program(title="Tahun Baru", starts_at=early)
    await make_program(title="Akhir Desember", starts_at=datetime(2030, 12, 31, 10, 0, tzinfo=UTC))
    january, _ = services.parse_filters(month="2031-01")
    december, _ = services.parse_filters(month="2030-12")
    assert [p["title"] for p in (await services.list_published(january))["items"]] == ["Tahun Baru"]
    assert [p["title"] for p in (await services.list_published(december))["items"]] == [
        "Akhir Desember"
    ]


async def test_paging_and_seats_left(engine: Any) -> None:
    for i in range(25):
        await make_program(title=f"Program {i:02d}", starts_at=in_days(1 + i), capacity=10)
    await Program.update({Program.seats_taken: 3}).where(Program.title == "Program 00").run()
    first, _ = services.parse_filters()
    page = await services.list_published(first, per_page=12)
    assert page["total"] == 25 and len(page["items"]) == 12 and page["per_page"] == 12
    assert page["items"][0]["seats_left"] == 7
    third, _ = services.parse_filters(page="3")
    last = await services.list_published(third, per_page=12)
    assert [p["title"] for p in last["items"]] == ["Program 24"]
    beyond, _ = services.parse_filters(page="4")
    empty = await services.list_published(beyond, per_page=12)
    assert empty["items"] == [] and empty["total"] == 25


async def test_home_takes_the_next_few_of_each_kind(engine: Any) -> None:
    for i in range(6):
        await make_program(
            title=f"Lokakarya {i}",
            kind="workshop",
            starts_at=in_days(10 - i),
            topics=("coding", f"t{i}"),
        )
    await make_program(title="Wisata", kind="tour", starts_at=in_days(30))
    await make_program(title="Lewat", kind="sport", starts_at=in_days(-30))
    found = await services.list_upcoming_by_kind(limit=4)
    assert [p["title"] for p in found["workshop"]] == [f"Lokakarya {i}" for i in (5, 4, 3, 2)]
    assert found["workshop"][0]["topics"] == ["coding", "t5"]
    assert [p["title"] for p in found["tour"]] == ["Wisata"] and found["sport"] == []


async def test_detail_of_a_tour_groups_stops_by_day(engine: Any) -> None:
    office = as_current(await make_staff(role="dinporapar"))
    created = await services.create_program(office, tour_body(publish=True))
    detail = await services.get_program_detail(created["slug"])
    assert detail is not None and detail["seats_left"] == 20
    days = services.group_by_day(detail["sessions"])
    assert [(d["day"], [s["title"] for s in d["stops"]]) for d in days] == [
        (1, ["Berkumpul", "Owabong"]),
        (2, ["Goa Lawa"]),
    ]


async def test_managed_list_is_own_for_organiser_all_for_office(engine: Any) -> None:
    owner, other = await organiser(), await organiser()
    await services.create_program(owner, program_body(title="Milik saya"))
    await services.create_program(other, program_body(title="Milik orang lain"))
    assert [p["title"] for p in await services.list_managed(owner)] == ["Milik saya"]
    office = as_current(await make_staff(role="admin"))
    assert len(await services.list_managed(office)) == 2
    scanner = as_current(await make_staff(role="scanner"))
    assert await services.list_managed(scanner) == []
