"""The registration form on a phone in Debian's Chromium: errors shown in place by htmx, a
double tap makes one registration, the form works without JavaScript, and the form and
/my pass axe without serious violations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_program
from youth_hub.registration.tables import Registration

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 393, "height": 851},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2.75,
}


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v.get("impact") in ("serious", "critical")]


async def _count() -> int:
    count: int = await Registration.count().run()
    return count


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems: list[str] = []
    # A 422 is the answer that carries the form's messages: Chromium logs it, it is no problem.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()


def _fill(page: Any, email: str = "siti@example.test") -> None:
    page.fill("#full_name", "Siti ꦱꦶꦠꦶ Aminah 👩🏽‍🎓")
    page.fill("#email", email)
    page.fill("#phone", "0813 2222 3333")
    page.fill("#birth_date", "2001-02-28")
    page.select_option("#kecamatan", "Kutasari")


def test_errors_appear_in_place_then_the_ticket(phone: Any, live: Any, seed: Any) -> None:
    program = seed(make_program, title="Lokakarya Kewirausahaan")
    url = f"{live.url}/programs/{program['slug']}/register"
    phone.goto(url)
    assert _serious(phone) == []
    _fill(phone, email="not-an-email")
    phone.get_by_role("button", name="Daftar").click()
    error = phone.locator("#email-error")
    error.wait_for()
    assert "email yang benar" in error.inner_text()
    assert phone.url == url  # swapped in place, no navigation
    assert phone.locator("#email").get_attribute("aria-invalid") == "true"
    assert phone.input_value("#full_name") == "Siti ꦱꦶꦠꦶ Aminah 👩🏽‍🎓"  # kept as typed
    assert _serious(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 393
    phone.fill("#email", "siti@example.test")
    phone.get_by_role("button", name="Daftar").click()
    phone.wait_for_url(f"{live.url}/tickets/*")
    assert seed(_count) == 1
    assert phone.problems == []


def test_a_double_tap_registers_once(phone: Any, live: Any, seed: Any) -> None:
    program = seed(make_program)
    phone.goto(f"{live.url}/programs/{program['slug']}/register")
    _fill(phone)
    button = phone.get_by_role("button", name="Daftar")
    button.dblclick()
    phone.wait_for_url(f"{live.url}/tickets/*")
    assert seed(_count) == 1


def test_the_form_works_without_javascript(browser: Any, live: Any, seed: Any) -> None:
    program = seed(make_program, capacity=1, waitlist_limit=5)
    seed(_fill_seat, program)
    context = browser.new_context(java_script_enabled=False, **PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/programs/{program['slug']}/register")
        assert page.get_by_text("Anda masih bisa masuk daftar tunggu").is_visible()
        _fill(page, email="x")
        page.get_by_role("button", name="Masuk daftar tunggu").click()
        assert page.locator("#email-error").is_visible()
        page.fill("#email", "siti@example.test")
        page.get_by_role("button", name="Masuk daftar tunggu").click()
        page.wait_for_url(f"{live.url}/tickets/*")
        assert seed(_count) == 2  # the seat taken before, and this waiting place
    finally:
        context.close()


def test_my_tickets_page_is_accessible(phone: Any, live: Any) -> None:
    phone.goto(f"{live.url}/my")
    assert _serious(phone) == []
    phone.fill("#my-email", "siapa@example.test")
    phone.get_by_role("button", name="Kirim tautannya").click()
    phone.get_by_text("sedang dikirim").wait_for()
    assert phone.url == f"{live.url}/my"
    assert phone.problems == []


def test_staff_list_on_a_phone(phone: Any, live: Any, seed: Any) -> None:
    from tests.factories import DEFAULT_PASSWORD, make_staff

    organiser = seed(make_staff, "organiser")
    program = seed(make_program, organiser=organiser, capacity=1, waitlist_limit=3)
    seed(_fill_seat, program)
    seed(_fill_seat, program, 91)
    phone.goto(f"{live.url}/login")
    phone.fill("#login-email", organiser["email"])
    phone.fill("#login-password", DEFAULT_PASSWORD)
    phone.get_by_role("button", name="Masuk").click()
    phone.wait_for_load_state()
    phone.goto(f"{live.url}/manage/programs/{program['slug']}/registrations")
    assert phone.get_by_text("budi90@example.id").is_visible()
    assert _serious(phone) == []
    phone.fill("#reg-q", "budi91")
    phone.locator("#registrations").get_by_text("budi91@example.id").wait_for()
    phone.locator("#registrations").get_by_text("budi90@example.id").wait_for(state="detached")
    assert "q=budi91" in phone.url  # the search is in the address, so a reload keeps it
    assert phone.problems == []


async def _fill_seat(program: dict[str, Any], n: int = 90) -> None:
    from tests.registration.helpers import person
    from youth_hub.registration import register_participant

    await register_participant(program["slug"], person(n), base_url="http://testserver.local")
