"""The scan page in Debian's Chromium: manual entry, the camera (a fake camera fed a ticket's
QR), and scanning on through a network cut (offline queue synced when the network returns)."""

from __future__ import annotations

import io
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.checkin.helpers import assign
from tests.factories import DEFAULT_PASSWORD, make_program, make_registration, make_staff
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from youth_hub.checkin.tables import CheckIn
from youth_hub.settings import Settings
from youth_hub.tickets import sign_ticket

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 393, "height": 851}, "is_mobile": True, "has_touch": True}
# Network errors are expected while the test cuts the network; anything else is a bug.
EXPECTED_OFFLINE = ("ERR_INTERNET_DISCONNECTED", "Failed to fetch", "ERR_NETWORK_CHANGED")


async def _scene() -> dict[str, Any]:
    organiser = await make_staff("organiser")
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    program = await make_program(organiser=organiser, starts_at=starts, title="Kelas Kepemimpinan")
    scanner = await make_staff("scanner")
    await assign(program, scanner)
    people = [
        await make_registration(program, full_name=name, first_name=name.split()[0])
        for name in ("Siti Nurhaliza", "Bagus Prasetyo", "Dewi Lestari", "Eko Saputra")
    ]
    gone = await make_registration(program, full_name="Fajar Batal", status="cancelled")
    return {"program": program, "scanner": scanner, "people": people, "gone": gone}


async def _checkins() -> list[dict[str, Any]]:
    return list(await CheckIn.select(CheckIn.registration, CheckIn.source).run())


def write_y4m(
    png: bytes, path: Path, width: int = 640, height: int = 480, frames: int = 20
) -> None:
    """A YUV4MPEG2 (4:2:0) clip of the QR scaled onto a white frame, for Chromium's fake camera."""
    side = min(width, height) - 60
    qr = Image.open(io.BytesIO(png)).convert("L").resize((side, side), Image.Resampling.NEAREST)
    luma = bytearray(b"\xff" * (width * height))
    pixels = qr.tobytes()
    left, top = (width - side) // 2, (height - side) // 2
    for row in range(side):
        start = (top + row) * width + left
        luma[start : start + side] = pixels[row * side : (row + 1) * side]
    chroma = b"\x80" * ((width // 2) * (height // 2))  # no colour
    with path.open("wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n")
            handle.write(bytes(luma))
            handle.write(chroma)
            handle.write(chroma)


def sign_in(page: Any, live: Any, email: str) -> None:
    page.goto(f"{live.url}/login")
    page.fill("#login-email", email)
    page.fill("#login-password", DEFAULT_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/scan**")


def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll `expression` through evaluate (wait_for_function would eval inside the page, which
    the page's strict CSP rightly refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def watch_errors(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def unexpected(problems: list[str]) -> list[str]:
    return [p for p in problems if not any(mark in p for mark in EXPECTED_OFFLINE)]


def test_manual_entry_turns_green_with_the_first_name(
    browser: Any, live: Any, seed: Any, settings: Settings
) -> None:
    scene = seed(_scene)
    siti = scene["people"][0]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch_errors(page)
    sign_in(page, live, scene["scanner"]["email"])
    assert page.locator("#scan-payload").evaluate("e => e === document.activeElement")
    # A hand scanner types the code and presses Enter into the focused field.
    page.keyboard.type(sign_ticket(settings.data_dir, siti["id"], siti["program"]))
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-result.tone-green")
    assert page.locator("#scan-result .result-name").inner_text() == "Siti"
    assert "Nurhaliza" not in page.content()
    page.wait_for_selector("#recent-list li.tone-green")
    # Scanned again: amber, already in.
    page.fill("#scan-payload", sign_ticket(settings.data_dir, siti["id"], siti["program"]))
    page.press("#scan-payload", "Enter")
    page.wait_for_selector("#scan-result.tone-amber")
    assert page.evaluate("document.documentElement.scrollWidth") <= 393
    from axe_playwright_python.sync_playwright import Axe

    violations = [
        v["id"]
        for v in Axe().run(page).response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert violations == []
    assert unexpected(problems) == []
    context.close()


def test_camera_then_offline_queue_then_sync(
    browser: Any, live: Any, seed: Any, settings: Settings, tmp_path: Path
) -> None:
    scene = seed(_scene)
    bagus, dewi, eko = scene["people"][1:]
    with urllib.request.urlopen(f"{live.url}/tickets/{bagus['code']}/qr.png", timeout=10) as r:
        png = r.read()
    clip = tmp_path / "ticket.y4m"
    write_y4m(png, clip)
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ],
    )
    try:
        context = camera_browser.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=live.url)
        page = context.new_page()
        problems = watch_errors(page)
        sign_in(page, live, scene["scanner"]["email"])
        slug = scene["program"]["slug"]

        # Camera: the decoder is loaded only now, from /static/vendor.
        assert page.evaluate("typeof window.BarcodeDetectionAPI") == "undefined"
        page.click("#camera-start")
        page.wait_for_selector("#scan-result.tone-green", timeout=30_000)
        assert page.locator("#scan-result .result-name").inner_text() == "Bagus"
        page.click("#camera-stop")

        # What offline scanning needs: the bundle, and the service worker in control.
        wait_until(page, f"localStorage.getItem('yh-bundle:{slug}') !== null")
        wait_until(page, "navigator.serviceWorker.controller !== null", timeout=20)

        context.set_offline(True)
        wait_until(page, "!navigator.onLine")
        page.reload()  # the service worker serves the page without a network
        page.wait_for_selector("#scan-payload")
        for person, count in ((dewi, "1"), (eko, "2")):
            page.fill(
                "#scan-payload", sign_ticket(settings.data_dir, person["id"], person["program"])
            )
            page.press("#scan-payload", "Enter")
            wait_until(page, f"document.getElementById('queue-count').textContent === '{count}'")
            assert "tone-green" in (page.get_attribute("#scan-result", "class") or "")
        # Offline refusals come from the bundle and the queue: no double admission.
        page.fill("#scan-payload", sign_ticket(settings.data_dir, dewi["id"], dewi["program"]))
        page.press("#scan-payload", "Enter")
        page.wait_for_selector("#scan-result.tone-amber")
        gone = scene["gone"]
        page.fill("#scan-payload", sign_ticket(settings.data_dir, gone["id"], gone["program"]))
        page.press("#scan-payload", "Enter")
        page.wait_for_selector("#scan-result.tone-red")
        forged = sign_ticket(settings.data_dir, eko["id"], eko["program"])[:-4] + "AAAA"
        page.fill("#scan-payload", forged)
        page.press("#scan-payload", "Enter")
        wait_until(page, "document.getElementById('scan-result').dataset.result === 'invalid'")
        assert page.locator("#queue-count").inner_text() == "2"
        assert {r["registration"] for r in seed(_checkins)} == {bagus["id"]}

        context.set_offline(False)
        wait_until(page, "document.getElementById('queue-count').textContent === '0'", timeout=30)
        rows = {r["registration"]: r["source"] for r in seed(_checkins)}
        assert rows == {bagus["id"]: "scan", dewi["id"]: "offline", eko["id"]: "offline"}
        assert unexpected(problems) == []
        context.close()
    finally:
        camera_browser.close()
