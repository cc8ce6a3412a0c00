"""Issue 2 in a real browser (Debian's Chromium, phone-sized): the home page, filtering the
catalogue in place with htmx, a program page, no serious accessibility violations (axe), and
the filter form without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import make_program

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "id-ID",
}


def seed_catalogue(seed: Any) -> None:
    seed(
        make_program,
        title="Kelas Coding Web",
        kind="workshop",
        topics=("coding",),
        kecamatan="Bobotsari",
        price_idr=50000,
    )
    seed(
        make_program,
        title="Wisata Edukatif Owabong",
        kind="tour",
        kecamatan="Bojongsari",
        price_idr=150000,
        sessions=3,
        topics=("wisata-edukatif",),
    )
    seed(
        make_program,
        title="Klinik Futsal dan Taktik",
        kind="sport",
        kecamatan="Kalimanah",
        topics=("futsal",),
    )


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings. The package injects axe through Playwright's
    evaluate (DevTools protocol), which our CSP does not block: no bypass needed."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert page.evaluate("typeof window.axe") == "object"
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_filter_in_place_open_a_program_and_audit(browser: Any, live: Any, seed: Any) -> None:
    from playwright.sync_api import expect

    seed_catalogue(seed)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(f"{live.url}/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        for title in ("Kelas Coding Web", "Wisata Edukatif Owabong", "Klinik Futsal dan Taktik"):
            expect(page.get_by_role("link", name=title)).to_be_visible()
        assert serious_violations(page) == []

        page.get_by_role("navigation").get_by_role("link", name="Program", exact=True).click()
        page.wait_for_url(f"{live.url}/programs")
        results = page.locator("#results")
        expect(results.get_by_role("link", name="Kelas Coding Web")).to_be_visible()

        # A marker on window survives only if the results swap in without a page load.
        page.evaluate("window.__stillHere = 'yes'")
        page.select_option("#f-kind", "tour")
        expect(results.get_by_role("link", name="Wisata Edukatif Owabong")).to_be_visible()
        expect(results.get_by_role("link", name="Kelas Coding Web")).to_have_count(0)
        expect(page).to_have_url(re.compile(r"/programs\?.*kind=tour"))  # hx-push-url
        assert page.evaluate("window.__stillHere") == "yes"

        page.select_option("#f-kind", "")
        page.locator("#f-q").press_sequentially("futsal", delay=30)
        expect(results.get_by_role("link", name="Klinik Futsal dan Taktik")).to_be_visible()
        expect(results.get_by_role("link", name="Wisata Edukatif Owabong")).to_have_count(0)
        expect(results.get_by_role("heading", level=2)).to_contain_text("1 program")
        assert page.evaluate("window.__stillHere") == "yes"
        assert serious_violations(page) == []

        results.get_by_role("link", name="Klinik Futsal dan Taktik").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Klinik Futsal dan Taktik")
        assert page.evaluate("window.__stillHere") is None  # a real navigation this time
        expect(page.get_by_role("link", name="Daftar")).to_have_attribute(
            "href", "/programs/" + page.url.rsplit("/", 1)[1] + "/register"
        )
        expect(page.get_by_text("Olahraga Akademik").first).to_be_visible()
        assert serious_violations(page) == []

        page.goto(f"{live.url}/programs?lang=en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Program catalogue")
        assert serious_violations(page) == []
        assert problems == []  # no CSP violation, no script error
    finally:
        context.close()


def test_filter_form_works_without_javascript(browser: Any, live: Any, seed: Any) -> None:
    from playwright.sync_api import expect

    seed_catalogue(seed)
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    try:
        page.goto(f"{live.url}/programs")
        page.select_option("#f-kecamatan", "Bojongsari")
        page.get_by_role("button", name="Tampilkan program").click()
        expect(page).to_have_url(re.compile(r"/programs\?.*kecamatan=Bojongsari"))
        results = page.locator("#results")
        expect(results.get_by_role("link", name="Wisata Edukatif Owabong")).to_be_visible()
        expect(results.get_by_role("link", name="Kelas Coding Web")).to_have_count(0)
        expect(page.locator("#f-kecamatan")).to_have_value("Bojongsari")

        page.fill("#f-q", "coding")
        page.select_option("#f-kecamatan", "")
        page.get_by_role("button", name="Tampilkan program").click()
        expect(page).to_have_url(re.compile(r"/programs\?.*q=coding"))
        expect(results.get_by_role("link", name="Kelas Coding Web")).to_be_visible()
        expect(results.get_by_role("link", name="Wisata Edukatif Owabong")).to_have_count(0)
    finally:
        context.close()
