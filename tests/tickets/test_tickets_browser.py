"""A phone (Pixel-5-sized) in Debian's Chromium: the ticket's QR renders and scans, the cancel
flow works with htmx, and a registration through the form lands on the ticket with its QR."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from tests.factories import make_program, make_registration

pytestmark = pytest.mark.browser

PIXEL_5 = {
    "viewport": {"width": 393, "height": 851},
    "device_scale_factor": 2.75,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
}


def qr_text(live: Any, code: str) -> str:
    with urllib.request.urlopen(f"{live.url}/api/v1/tickets/{code}", timeout=10) as response:
        text: str = json.loads(response.read())["qr"]
    return text


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def scan(png: bytes) -> list[str]:
    import io

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(**PIXEL_5)
    page = context.new_page()
    problems: list[str] = []
    # CSP violations and script errors show up as console errors
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()


def test_confirmed_ticket_shows_a_scannable_qr_on_a_phone(phone: Any, live: Any, seed: Any) -> None:
    program = seed(make_program, title="Kelas Kepemimpinan Pemuda", sessions=2)
    reg = seed(make_registration, program, full_name="Ayu Lestari")
    phone.goto(f"{live.url}/tickets/{reg['code']}")
    svg = phone.locator("svg.qr")
    svg.wait_for(state="visible")
    box = svg.bounding_box()
    assert box is not None
    assert 250 <= box["width"] <= 393 and abs(box["width"] - box["height"]) < 1
    assert scan(svg.screenshot()) == [qr_text(live, reg["code"])]
    assert phone.get_by_text("Terkonfirmasi").is_visible()
    # nothing wider than the screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= 393
    assert phone.problems == []
    assert serious_violations(phone) == []


def test_waitlisted_and_cancelled_tickets_are_accessible(phone: Any, live: Any, seed: Any) -> None:
    program = seed(make_program, capacity=1)
    seed(make_registration, program)
    waiting = seed(make_registration, program, status="waitlisted")
    cancelled = seed(make_registration, program, status="cancelled")
    for reg in (waiting, cancelled):
        phone.goto(f"{live.url}/tickets/{reg['code']}")
        assert phone.locator("svg.qr").count() == 0
        assert serious_violations(phone) == []
    phone.goto(f"{live.url}/tickets/{waiting['code']}/cancel")
    assert phone.get_by_role("button", name="Ya, batalkan").is_visible()
    assert serious_violations(phone) == []


def test_cancel_with_htmx_on_a_phone(phone: Any, live: Any, seed: Any) -> None:
    reg = seed(make_registration, seed(make_program))
    phone.goto(f"{live.url}/tickets/{reg['code']}")
    phone.get_by_role("link", name="Batalkan pendaftaran saya").click()
    phone.get_by_role("heading", name="Batalkan pendaftaran ini?").wait_for()
    assert phone.url.endswith(f"/tickets/{reg['code']}")  # swapped in place by htmx
    phone.get_by_role("button", name="Ya, batalkan").click()
    phone.get_by_text("Tiket ini sudah dibatalkan.").wait_for()
    assert phone.locator("svg.qr").count() == 0
    assert phone.url.endswith(f"/tickets/{reg['code']}")
    assert phone.problems == []


def test_cancel_without_javascript(browser: Any, live: Any, seed: Any) -> None:
    reg = seed(make_registration, seed(make_program))
    context = browser.new_context(java_script_enabled=False, **PIXEL_5)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/tickets/{reg['code']}")
        assert page.locator("svg.qr").is_visible()
        page.get_by_role("link", name="Batalkan pendaftaran saya").click()
        assert page.url.endswith(f"/tickets/{reg['code']}/cancel")
        page.get_by_role("button", name="Ya, batalkan").click()
        page.get_by_text("Tiket ini sudah dibatalkan.").wait_for()
        assert page.url.endswith(f"/tickets/{reg['code']}")
        assert page.locator("svg.qr").count() == 0
    finally:
        context.close()


def test_register_through_the_form_and_land_on_the_ticket_with_its_qr(
    phone: Any, live: Any, seed: Any
) -> None:
    program = seed(make_program, title="Klinik Bulu Tangkis", kind="sport")
    phone.goto(f"{live.url}/programs/{program['slug']}/register")
    phone.fill("#full_name", "Budi Santoso")
    phone.fill("#email", "budi@example.test")
    phone.fill("#phone", "0812 3456 7890")
    phone.fill("#birth_date", "2003-08-17")
    phone.select_option("#kecamatan", "Bukateja")
    phone.get_by_role("button", name="Daftar").click()
    phone.wait_for_url(f"{live.url}/tickets/*")
    svg = phone.locator("svg.qr")
    svg.wait_for(state="visible")
    code = phone.url.rsplit("/", 1)[-1]
    assert scan(svg.screenshot()) == [qr_text(live, code)]
    assert phone.get_by_text("Klinik Bulu Tangkis").first.is_visible()
    assert phone.problems == []
