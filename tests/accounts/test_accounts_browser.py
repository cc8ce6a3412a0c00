"""Sign-in and the admin pages in Debian's Chromium: keyboard only, on a phone, without
JavaScript, no CSP errors, no serious accessibility violations (axe)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import DEFAULT_PASSWORD, make_staff

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def open_page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(**PHONE, **options)
    page = context.new_page()
    page.set_default_timeout(15_000)  # a stuck step fails in seconds, not at the suite's end
    problems: list[str] = []
    # CSP violations and script errors show up as console errors
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    # the refused sign-in answers 422 on purpose; Chromium logs every 4xx as an error
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    return page


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_keyboard_sign_in_and_admin_pages_on_a_phone(browser: Any, live: Any, seed: Any) -> None:
    admin = seed(make_staff, role="admin", name="Admin Utama")
    seed(make_staff, role="organiser", name="Sari Dewi")
    page = open_page(browser)
    try:
        page.goto(f"{live.url}/login?next=/manage/staff")
        page.locator("#login-email").focus()
        page.keyboard.type(admin["email"])
        page.keyboard.press("Tab")
        page.keyboard.type("wrong password")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_text("Email atau kata sandi salah.").is_visible()
        assert serious_violations(page) == []
        assert fits_the_screen(page)

        assert page.locator("#login-email").input_value() == admin["email"]  # kept for retry
        page.locator("#login-password").fill(DEFAULT_PASSWORD)
        with page.expect_navigation(url=re.compile(r"/manage/staff$")):
            page.locator("#login-password").press("Enter")
        assert page.get_by_role("heading", name="Akun staf").is_visible()
        assert serious_violations(page) == []
        assert fits_the_screen(page)

        with page.expect_navigation(url=re.compile(r"/manage/staff/\d+$")):
            page.get_by_role("link", name=re.compile("organiser")).first.click()
        assert serious_violations(page) == []
        assert fits_the_screen(page)

        page.goto(f"{live.url}/manage/staff")
        page.locator("#staff-email").fill("relawan@example.test")
        page.locator("#staff-role").select_option("scanner")
        with page.expect_navigation():
            page.get_by_role("button", name="Tambah staf").click()
        assert page.locator("#new-password").is_visible()
        assert serious_violations(page) == []
        assert fits_the_screen(page)
        with page.expect_navigation():
            page.get_by_role("link", name="Buka akun").click()
        page.locator("#token-label").fill("Gerbang utara")
        with page.expect_navigation():
            page.locator("#token-label").press("Enter")
        assert page.locator("#new-token").is_visible()
        assert serious_violations(page) == []
        assert fits_the_screen(page)

        page.goto(f"{live.url}/manage/audit")
        assert page.get_by_role("heading", name="Log audit").is_visible()
        assert serious_violations(page) == []
        assert fits_the_screen(page)
        expected = "the server responded with a status of 422"
        assert [p for p in page.problems if expected not in p] == []
    finally:
        page.context.close()


def test_without_javascript_an_admin_adds_staff_and_issues_a_token(
    browser: Any, live: Any, seed: Any
) -> None:
    admin = seed(make_staff, role="admin")
    page = open_page(browser, java_script_enabled=False)
    try:
        page.goto(f"{live.url}/login")
        page.get_by_label("Email").fill(admin["email"])
        page.get_by_label("Kata sandi").fill(DEFAULT_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Masuk").last.click()
        page.goto(f"{live.url}/manage/staff")
        page.locator("#staff-email").fill("relawan@example.test")
        page.locator("#staff-name").fill("Relawan Gerbang")
        page.locator("#staff-role").select_option("scanner")
        with page.expect_navigation():
            page.get_by_role("button", name="Tambah staf").click()
        assert page.get_by_role("heading", name="Anggota staf ditambahkan").is_visible()
        assert len(page.locator("#new-password").inner_text()) >= 12

        with page.expect_navigation():
            page.get_by_role("link", name="Buka akun").click()
        page.locator("#token-label").fill("Gerbang utara")
        with page.expect_navigation():
            page.get_by_role("button", name="Terbitkan token").click()
        assert page.locator("#new-token").inner_text().startswith("yh_")
        # (no axe here: it runs as JavaScript in the page, which is switched off)
    finally:
        page.context.close()
