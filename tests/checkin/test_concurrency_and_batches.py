"""Many scanners on one ticket at once, and offline scans synced late, out of order, twice."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.checkin.helpers import as_user, assign, door, sessions_of, ticket, within_window
from tests.factories import make_registration, make_staff
from youth_hub.checkin import services
from youth_hub.checkin.tables import CheckIn, ScanLog
from youth_hub.settings import Settings

START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
NOW = within_window(START)


async def test_twenty_concurrent_scans_of_one_ticket_give_exactly_one_ok(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    scanners = [as_user(setup["scanner"])]
    for _ in range(3):
        extra = await make_staff("scanner")
        await assign(setup["program"], extra)
        scanners.append(as_user(extra))
    payload = ticket(settings, setup["registration"])

    async def one(i: int) -> services.CheckinAnswer:
        return await services.perform_checkin(
            payload,
            setup["program"]["slug"],
            scanner=scanners[i % len(scanners)],
            data_dir=settings.data_dir,
            now=NOW + timedelta(milliseconds=i),
            device_id=f"door-{i}",
        )

    answers = await asyncio.gather(*(one(i) for i in range(20)))
    results = [a.result for a in answers]
    assert results.count("ok") == 1, results
    assert results.count("already_checked_in") == 19
    kept = await CheckIn.select().run()
    assert len(kept) == 1
    first = next(a for a in answers if a.result == "ok")
    assert {a.checked_in_at for a in answers} == {first.checked_in_at}
    assert await ScanLog.count().run() == 20


async def test_concurrent_retries_with_one_nonce_store_one_answer(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    payload = ticket(settings, setup["registration"])
    user = as_user(setup["scanner"])
    answers = await asyncio.gather(
        *(
            services.perform_checkin(
                payload,
                setup["program"]["slug"],
                scanner=user,
                nonce="tap-1",
                data_dir=settings.data_dir,
                now=NOW,
            )
            for _ in range(8)
        )
    )
    assert {a.result for a in answers} == {"ok"}
    assert await ScanLog.count().run() == 1
    assert await CheckIn.count().run() == 1


def offline(
    payload: str, slug: str, session_id: int | None, at: datetime, device: str, **extra: Any
) -> dict[str, Any]:
    return {
        "payload": payload,
        "program": slug,
        "session_id": session_id,
        "scanned_at": at.isoformat(),
        "device_id": device,
        **extra,
    }


async def test_offline_batches_keep_the_earliest_scan_whatever_the_order(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    slug = setup["program"]["slug"]
    session_id = (await sessions_of(setup["program"]))[0]["id"]
    user = as_user(setup["scanner"])
    payload = ticket(settings, setup["registration"])
    early = START - timedelta(minutes=20)
    late = START - timedelta(minutes=5)
    # Device B (later scan) syncs first, device A (earlier scan) an hour later.
    batch_b = [offline(payload, slug, session_id, late, "device-b")]
    batch_a = [offline(payload, slug, session_id, early, "device-a")]
    first = await services.perform_checkin_batch(
        batch_b, scanner=user, data_dir=settings.data_dir, now=START + timedelta(hours=1)
    )
    assert [a.result for a in first] == ["ok"]
    assert first[0].checked_in_at == late
    second = await services.perform_checkin_batch(
        batch_a, scanner=user, data_dir=settings.data_dir, now=START + timedelta(hours=2)
    )
    assert [a.result for a in second] == ["already_checked_in"]
    assert second[0].checked_in_at == early
    kept = await CheckIn.select().run()
    assert len(kept) == 1
    assert kept[0]["checked_in_at"] == early and kept[0]["device_id"] == "device-a"
    assert kept[0]["source"] == "offline"
    duplicates = await ScanLog.select().where(ScanLog.result == "duplicate").run()
    assert [(d["device_id"], d["scanned_at"]) for d in duplicates] == [("device-b", late)]

    # Both batches sent again: same answers, nothing changes, nothing more logged.
    log_count = await ScanLog.count().run()
    again_b = await services.perform_checkin_batch(
        batch_b, scanner=user, data_dir=settings.data_dir, now=START + timedelta(hours=3)
    )
    again_a = await services.perform_checkin_batch(
        batch_a, scanner=user, data_dir=settings.data_dir, now=START + timedelta(hours=3)
    )
    assert again_b == first and again_a == second
    assert await ScanLog.count().run() == log_count
    assert await CheckIn.select().run() == kept


async def test_in_order_arrival_logs_the_later_scan_as_duplicate(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    slug = setup["program"]["slug"]
    user = as_user(setup["scanner"])
    payload = ticket(settings, setup["registration"])
    early, late = START - timedelta(minutes=20), START - timedelta(minutes=5)
    # No session given: each scan's own time picks the open session.
    answers = await services.perform_checkin_batch(
        [offline(payload, slug, None, early, "a"), offline(payload, slug, None, late, "b")],
        scanner=user,
        data_dir=settings.data_dir,
        now=START + timedelta(hours=1),
    )
    assert [a.result for a in answers] == ["ok", "already_checked_in"]
    assert answers[1].checked_in_at == early
    duplicates = await ScanLog.select().where(ScanLog.result == "duplicate").run()
    assert [(d["device_id"], d["scanned_at"]) for d in duplicates] == [("b", late)]


async def test_offline_scan_earlier_than_an_online_one_is_kept(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    user = as_user(setup["scanner"])
    payload = ticket(settings, setup["registration"])
    online = await services.perform_checkin(
        payload, setup["program"]["slug"], scanner=user, data_dir=settings.data_dir, now=NOW
    )
    assert online.result == "ok"
    earlier = NOW - timedelta(minutes=4)
    answers = await services.perform_checkin_batch(
        [offline(payload, setup["program"]["slug"], online.session_id, earlier, "phone")],
        scanner=user,
        data_dir=settings.data_dir,
        now=NOW + timedelta(minutes=30),
    )
    assert answers[0].result == "already_checked_in"
    assert (await CheckIn.select().first().run())["checked_in_at"] == earlier


async def test_one_result_per_scan_with_refusals_in_the_batch(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    slug = setup["program"]["slug"]
    user = as_user(setup["scanner"])
    cancelled = await make_registration(setup["program"], status="cancelled")
    second = await make_registration(setup["program"], full_name="Joko Widodo")
    scans = [
        offline(ticket(settings, setup["registration"]), slug, None, NOW, "d"),
        offline("YH1.forged.code", slug, None, NOW, "d"),
        offline(ticket(settings, cancelled), slug, None, NOW, "d"),
        offline(ticket(settings, second), slug, None, NOW, "d"),
        offline(ticket(settings, second), "no-such-program", None, NOW, "d"),
        offline(ticket(settings, second), slug, None, START - timedelta(days=3), "d"),
    ]
    answers = await services.perform_checkin_batch(
        scans, scanner=user, data_dir=settings.data_dir, now=NOW + timedelta(minutes=5)
    )
    assert [a.result for a in answers] == [
        "ok",
        "invalid",
        "cancelled",
        "ok",
        "not_allowed",
        "outside_window",
    ]
    assert answers[3].first_name == "Joko"


async def test_scan_times_in_the_future_are_clamped_to_now(engine: Any, settings: Settings) -> None:
    setup = await door(START)
    answers = await services.perform_checkin_batch(
        [
            offline(
                ticket(settings, setup["registration"]),
                setup["program"]["slug"],
                None,
                NOW + timedelta(days=1),
                "fast-clock",
            )
        ],
        scanner=as_user(setup["scanner"]),
        data_dir=settings.data_dir,
        now=NOW,
    )
    assert answers[0].result == "ok"
    assert answers[0].checked_in_at == NOW


async def test_malformed_batches_name_the_field_and_change_nothing(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    good = offline(
        ticket(settings, setup["registration"]), setup["program"]["slug"], None, NOW, "d"
    )
    cases = [
        ("scans", "not a list"),
        ("scans[0]", ["string"]),
        ("scans[1].scanned_at", [good, {**good, "scanned_at": "yesterday"}]),
        ("scans[0].scanned_at", [{**good, "scanned_at": "2026-12-05T08:00:00"}]),
        ("scans[0].scanned_at", [{**good, "scanned_at": None}]),
        ("scans[0].payload", [{**good, "payload": 42}]),
        ("scans[0].device_id", [{**good, "device_id": "x" * 65}]),
        ("scans[0].session_id", [{**good, "session_id": "one"}]),
        ("scans[0].program", [{**good, "program": None}]),
        ("scans", [good] * 501),
    ]
    for field, scans in cases:
        try:
            await services.perform_checkin_batch(
                scans, scanner=as_user(setup["scanner"]), data_dir=settings.data_dir, now=NOW
            )
        except services.ValidationFailed as exc:
            assert exc.errors[0].field == field, (field, exc.errors)
        else:
            raise AssertionError(f"{field} accepted")
    assert await CheckIn.count().run() == 0
    assert await ScanLog.count().run() == 0


async def test_bundle_lists_ids_and_keys_but_no_personal_data(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START, sessions=2)
    gone = await make_registration(
        setup["program"],
        status="cancelled",
        full_name="Ani Gone",
        email="ani@example.test",
        phone="+6281299999999",
    )
    waiting = await make_registration(setup["program"], status="waitlisted")
    await services.perform_checkin(
        ticket(settings, setup["registration"]),
        setup["program"]["slug"],
        scanner=as_user(setup["scanner"]),
        data_dir=settings.data_dir,
        now=NOW,
    )
    bundle = await services.build_checkin_bundle(
        setup["program"]["slug"], user=as_user(setup["scanner"]), data_dir=settings.data_dir
    )
    assert bundle["cancelled"] == [gone["id"]]
    assert bundle["waitlisted"] == [waiting["id"]]
    sessions = await sessions_of(setup["program"])
    assert bundle["checked_in"] == [
        {"ticket_id": setup["registration"]["id"], "session_id": sessions[0]["id"]}
    ]
    assert [s["id"] for s in bundle["sessions"]] == [s["id"] for s in sessions]
    assert bundle["program"]["id"] == setup["program"]["id"]
    assert bundle["public_keys"] and len(bundle["public_keys"][0]["kid"]) == 8
    text = json.dumps(bundle)
    for reg in (setup["registration"], gone, waiting):
        for key in ("full_name", "email", "phone", "code", "school"):
            assert str(reg[key]) not in text, key
        assert reg["birth_date"].isoformat() not in text
    for word in ("Siti", "Nurhaliza", "Ani", "@example"):
        assert word not in text
    outsider = as_user(await make_staff("scanner"))
    try:
        await services.build_checkin_bundle(
            setup["program"]["slug"], user=outsider, data_dir=settings.data_dir
        )
    except services.DomainError as exc:
        assert exc.status_code == 403
    else:
        raise AssertionError("an unassigned scanner got the bundle")
