"""Demo data: realistic, idempotent, with one working login per role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from youth_hub.accounts.passwords import verify_password
from youth_hub.accounts.tables import StaffUser
from youth_hub.catalog import KECAMATAN
from youth_hub.catalog.demo import load_demo
from youth_hub.catalog.tables import Program, ProgramSession, ProgramTopic


async def _counts() -> tuple[int, int, int, int]:
    return (
        await StaffUser.count().run(),
        await Program.count().run(),
        await ProgramSession.count().run(),
        await ProgramTopic.count().run(),
    )


async def test_demo_loads_logins_and_programs_once(engine: Any) -> None:
    logins = await load_demo()
    assert logins is not None
    assert sorted(role for _, role, _ in logins) == ["admin", "dinporapar", "organiser", "scanner"]
    for email, role, password in logins:
        row = await StaffUser.select().where(StaffUser.email == email).first().run()
        assert row["role"] == role and verify_password(row["password_hash"], password)
    first = await _counts()
    assert await load_demo() == logins
    assert await _counts() == first  # running twice adds nothing
    assert await load_demo(if_empty=True) is None


async def test_demo_programs_are_realistic(engine: Any) -> None:
    await load_demo()
    programs = await Program.select().run()
    now = datetime.now(UTC)
    for kind in ("workshop", "sport", "tour"):
        mine = [p for p in programs if p["kind"] == kind]
        assert len(mine) >= 4, kind
        assert any(p["first_starts_at"] > now and p["status"] == "published" for p in mine)
        assert any(p["last_ends_at"] < now for p in mine)
    assert len({p["kecamatan"] for p in programs}) >= 6
    assert all(p["kecamatan"] in KECAMATAN for p in programs)
    assert any(p["price_idr"] == 0 for p in programs) and any(p["price_idr"] for p in programs)
    titles = " ".join(p["title"] + " " + p["description"] for p in programs)
    for place in (
        "Owabong",
        "Goa Lawa",
        "Purbasari Pancuran Mas",
        "Sanggaluri",
        "Panusupan",
        "knalpot",
        "bulu mata",
        "BUMDes",
        "Futsal",
        "Bulu Tangkis",
        "Coding",
    ):
        assert place.lower() in titles.lower(), place
    tours = [p for p in programs if p["kind"] == "tour"]
    for tour in tours:
        stops = await ProgramSession.select().where(ProgramSession.program == tour["id"]).run()
        assert len(stops) >= 3 and all(s["day"] for s in stops)
        assert any(s["checkin"] for s in stops)
        assert "Termasuk" in tour["description"]  # what the price includes
    two_days = [t for t in tours if t["last_ends_at"].date() != t["first_starts_at"].date()]
    assert two_days, "a tour over several days"


async def test_if_empty_loads_into_an_empty_database(engine: Any) -> None:
    logins = await load_demo(if_empty=True)
    assert logins and await Program.count().run() >= 12
