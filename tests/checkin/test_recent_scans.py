"""The scanner's "last scans" list: each row carries the scan's nonce (so the page pairs it with
the phone's offline copy) and, of the registrant, the first name only."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.checkin.helpers import as_user, door, ticket, within_window
from tests.factories import make_registration
from youth_hub.checkin import services
from youth_hub.settings import Settings

START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 08.00 WIB
NOW = within_window(START)


async def test_recent_scans_carry_the_nonce_and_no_other_personal_data(
    engine: Any, settings: Settings
) -> None:
    setup = await door(START)
    slug = setup["program"]["slug"]
    scanner = as_user(setup["scanner"])
    bayu = await make_registration(
        setup["program"],
        full_name="Bayu Kurniawan Saputra",
        first_name="Bayu",
        phone="+6281299887766",
        birth_date=date(2007, 3, 9),
    )
    # Online, with the form's nonce; offline, sent later in a batch with the phone's nonce.
    await services.perform_checkin(
        ticket(settings, setup["registration"]),
        slug,
        scanner=scanner,
        nonce="f-online1",
        now=NOW,
        data_dir=settings.data_dir,
    )
    sent = NOW + timedelta(minutes=3)
    await services.perform_checkin_batch(
        [
            {
                "payload": ticket(settings, bayu),
                "program": slug,
                "scanned_at": (NOW + timedelta(minutes=1)).isoformat(),
                "device_id": "d-phone",
                "nonce": "q-offline1",
            },
            {  # scanned again offline: the server's answer is already_checked_in
                "payload": ticket(settings, bayu),
                "program": slug,
                "scanned_at": (NOW + timedelta(minutes=2)).isoformat(),
                "device_id": "d-phone",
                "nonce": "q-offline2",
            },
        ],
        scanner=scanner,
        data_dir=settings.data_dir,
        now=sent,
    )
    # A scan sent without a nonce (the API allows it) lists an empty one.
    await services.perform_checkin(
        "junk", slug, scanner=scanner, now=sent, data_dir=settings.data_dir
    )

    recent = await services.list_recent_scans(setup["program"]["id"], scanner, now=sent)

    assert [(r["nonce"], r["result"], r["first_name"]) for r in recent] == [
        ("", "invalid", ""),
        ("q-offline2", "already_checked_in", "Bayu"),
        ("q-offline1", "ok", "Bayu"),
        ("f-online1", "ok", "Siti"),
    ]
    # Each row's time is when it was scanned: the phone's time for the offline ones.
    assert [r["at"].astimezone(UTC) for r in recent] == [
        sent,
        NOW + timedelta(minutes=2),
        NOW + timedelta(minutes=1),
        NOW,
    ]
    for row in recent:
        assert set(row) == {"at", "result", "tone", "first_name", "undo_id", "nonce"}
    listed = json.dumps(recent, default=str)
    for personal in (
        "Nurhaliza",
        "Rahma",
        "Kurniawan",
        "Saputra",
        "+6281299887766",
        setup["registration"]["phone"],
        "2007-03-09",
        "2005-05-17",
        setup["registration"]["email"],
        bayu["email"],
    ):
        assert personal not in listed
