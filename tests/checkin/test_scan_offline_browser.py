"""The scan page offline in Debian's Chromium: each program keeps its own page and data, a
program never opened online gets the offline page, and offline answers stay in the list of
last scans (across reloads) until the server's answers replace the phone's."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.checkin.helpers import assign
from tests.checkin.test_scan_browser import PHONE, sign_in, unexpected, wait_until, watch_errors
from tests.factories import make_program, make_registration, make_staff, make_token
from youth_hub.settings import Settings
from youth_hub.tickets import sign_ticket

pytestmark = pytest.mark.browser

TITLES = ("Kelas Kepemimpinan", "Turnamen Futsal Remaja", "Lomba Menulis Cerpen")


async def _programs() -> dict[str, Any]:
    """Three programs open for check-in now, one scanner assigned to all three."""
    organiser = await make_staff("organiser")
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    scanner = await make_staff("scanner")
    programs, people = [], []
    for title in TITLES:
        program = await make_program(organiser=organiser, starts_at=starts, title=title)
        await assign(program, scanner)
        programs.append(program)
        people.append(await make_registration(program, full_name=f"Rina {title.split()[0]}"))
    return {"programs": programs, "people": people, "scanner": scanner}


async def _door() -> dict[str, Any]:
    organiser = await make_staff("organiser")
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    program = await make_program(organiser=organiser, starts_at=starts, title="Kelas Kepemimpinan")
    scanner = await make_staff("scanner")
    other = await make_staff("scanner")
    await assign(program, scanner)
    await assign(program, other)
    people = {
        name.split()[0]: await make_registration(
            program, full_name=name, first_name=name.split()[0]
        )
        for name in ("Dewi Lestari", "Bagus Prasetyo")
    }
    gone = await make_registration(program, full_name="Fajar Batal", status="cancelled")
    return {
        "program": program,
        "scanner": scanner,
        "people": people,
        "gone": gone,
        "other_token": await make_token(other),
    }


def wait_async(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Like wait_until, for an expression that needs `await` (the Cache API, IndexedDB)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"async () => Boolean(await ({expression}))"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def kept(slug: str, session: str = "") -> str:
    """The Cache API lookup of a program's page as the service worker keys it."""
    return f"caches.match('/scan?program={slug}&session={session}', {{ignoreVary: true}})"


def ready_offline(page: Any, slug: str) -> None:
    """The worker active (the page itself may be uncontrolled when the worker activated during
    its navigation; the next navigations are its), the bundle, this page and the offline page
    kept."""
    wait_async(
        page,
        "navigator.serviceWorker.getRegistration('/scan')"
        ".then(r => Boolean(r && r.active && r.active.state === 'activated'))",
    )
    wait_until(page, f"localStorage.getItem('yh-bundle:{slug}') !== null")
    wait_async(page, kept(slug))
    wait_async(page, "caches.match('/scan/offline', {ignoreVary: true})")


def choose_program(page: Any, slug: str) -> None:
    with page.expect_navigation():
        page.select_option("#scan-program", slug)
    page.wait_for_load_state()


def scan(page: Any, code: str) -> None:
    page.fill("#scan-payload", code)
    page.press("#scan-payload", "Enter")


def shown_program(page: Any) -> tuple[str, str]:
    page.wait_for_selector("#scan-app")
    slug = page.get_attribute("#scan-app", "data-program") or ""
    title = page.locator("#scan-program option:checked").inner_text()
    return slug, title


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [v["id"] for v in found if v.get("impact") in ("serious", "critical")]


def local_rows(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#recent-list li.local",
        "items => items.map(li => [li.dataset.state, li.dataset.result,"
        " li.querySelector('.recent-name').textContent])",
    )


def all_rows(page: Any) -> list[list[str]]:
    """Every row of the list, newest first: the server's rows and the phone's offline ones."""
    return page.eval_on_selector_all(
        "#recent-list li:not(.empty)",
        "items => items.map(li => [li.classList.contains('local') ? 'local' : 'server',"
        " li.dataset.state || '', li.dataset.result || '',"
        " li.querySelector('.recent-name').textContent])",
    )


RECENT_STORE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('youth-hub-scan');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    return await new Promise((resolve, reject) => {
      const request = db.transaction('recent', 'readonly').objectStore('recent').getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}"""


def recent_store(page: Any) -> list[dict[str, Any]]:
    """The phone's offline list as scan.js keeps it in IndexedDB (store `recent`)."""
    return page.evaluate(RECENT_STORE)


def test_offline_each_program_opens_its_own_page_and_data(
    browser: Any, live: Any, seed: Any, settings: Settings
) -> None:
    scene = seed(_programs)
    (a, b, c), (rina_a, rina_b, _rina_c) = scene["programs"], scene["people"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch_errors(page)
    sign_in(page, live, scene["scanner"]["email"])
    page.goto(f"{live.url}/scan?program={a['slug']}")
    ready_offline(page, a["slug"])
    choose_program(page, b["slug"])  # the select sends no session of A: /scan?program=<B>
    assert shown_program(page) == (b["slug"], b["title"])
    ready_offline(page, b["slug"])

    context.set_offline(True)
    wait_until(page, "!navigator.onLine")
    # B was kept last; switching to A must still show A, then B again.
    choose_program(page, a["slug"])
    assert shown_program(page) == (a["slug"], a["title"])
    choose_program(page, b["slug"])
    assert shown_program(page) == (b["slug"], b["title"])
    # B's page checks tickets against B's data only.
    scan(page, sign_ticket(settings.data_dir, rina_a["id"], rina_a["program"]))
    wait_until(page, "document.getElementById('scan-result').dataset.result === 'wrong_program'")
    scan(page, sign_ticket(settings.data_dir, rina_b["id"], rina_b["program"]))
    wait_until(page, "document.getElementById('scan-result').dataset.result === 'ok'")
    wait_until(page, "document.getElementById('queue-count').textContent === '1'")

    # C was never opened online: the offline page, in Indonesian, offering A and B.
    choose_program(page, c["slug"])
    assert page.locator("#scan-app").count() == 0
    assert page.locator("h1").inner_text() == "Tidak tersedia luring"
    assert "belum pernah dibuka" in page.locator("#scan-offline .notice").inner_text()
    page.wait_for_selector("#offline-programs a")
    offered = page.eval_on_selector_all("#offline-programs a", "links => links.map(a => a.text)")
    assert sorted(offered) == sorted([a["title"], b["title"]])
    assert serious_violations(page) == []
    with page.expect_navigation():
        page.click(f"#offline-programs a[data-program='{a['slug']}']")
    assert shown_program(page) == (a["slug"], a["title"])

    # In English the offline page is English: it is kept again in the language now used.
    context.set_offline(False)
    wait_until(page, "navigator.onLine")
    page.goto(f"{live.url}/scan?program={a['slug']}&lang=en")
    page.wait_for_selector("#scan-app")
    wait_async(
        page,
        "caches.match('/scan/offline').then(r => r && r.text())"
        ".then(t => Boolean(t) && t.includes('Not available offline'))",
    )
    context.set_offline(True)
    wait_until(page, "!navigator.onLine")
    page.goto(f"{live.url}/scan?program={c['slug']}")
    assert page.locator("h1").inner_text() == "Not available offline"
    assert page.get_attribute("html", "lang") == "en"
    assert unexpected(problems) == []
    context.close()


def test_offline_answers_stay_listed_and_show_the_servers_answers_after_sync(
    browser: Any, live: Any, seed: Any, settings: Settings
) -> None:
    scene = seed(_door)
    dewi, bagus, gone = scene["people"]["Dewi"], scene["people"]["Bagus"], scene["gone"]
    slug = scene["program"]["slug"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch_errors(page)
    sign_in(page, live, scene["scanner"]["email"])
    ready_offline(page, slug)

    context.set_offline(True)
    wait_until(page, "!navigator.onLine")
    # Meanwhile another scanner, online, lets Bagus in: this phone's bundle does not know it.
    request = urllib.request.Request(
        f"{live.url}/api/v1/checkin",
        data=json.dumps(
            {
                "payload": sign_ticket(settings.data_dir, bagus["id"], bagus["program"]),
                "program": slug,
            }
        ).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {scene['other_token']}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer)["result"] == "ok"

    for person, count in ((dewi, "1"), (bagus, "2")):
        scan(page, sign_ticket(settings.data_dir, person["id"], person["program"]))
        wait_until(page, f"document.getElementById('queue-count').textContent === '{count}'")
    scan(page, sign_ticket(settings.data_dir, gone["id"], gone["program"]))
    wait_until(page, "document.getElementById('scan-result').dataset.result === 'cancelled'")
    scan(page, sign_ticket(settings.data_dir, dewi["id"], dewi["program"])[:-4] + "AAAA")
    wait_until(page, "document.getElementById('scan-result').dataset.result === 'invalid'")
    wait_until(page, "document.querySelectorAll('#recent-list li.local').length === 4")
    before = [
        ["refused", "invalid", "—"],
        ["refused", "cancelled", f"Tiket #{gone['id']}"],
        ["queued", "ok", f"Tiket #{bagus['id']}"],
        ["queued", "ok", f"Tiket #{dewi['id']}"],
    ]
    assert local_rows(page) == before

    # A reload without network: the refusals are still there, not only in a passing panel.
    page.reload()
    page.wait_for_selector("#scan-payload")
    wait_until(page, "document.querySelectorAll('#recent-list li.local').length === 4")
    assert local_rows(page) == before
    assert page.locator("#recent-list li.local[data-state=refused]").count() == 2

    # The network returns: the queue is sent and each queued scan shows the server's answer.
    context.set_offline(False)
    wait_until(page, "document.getElementById('queue-count').textContent === '0'", timeout=30)
    wait_until(page, "document.querySelectorAll('#recent-list li[data-state=sent]').length === 2")
    after = [
        ["refused", "invalid", "—"],
        ["refused", "cancelled", f"Tiket #{gone['id']}"],
        ["sent", "already_checked_in", "Bagus"],
        ["sent", "ok", "Dewi"],
    ]
    assert local_rows(page) == after
    assert serious_violations(page) == []
    sent = {e["first_name"]: e["id"] for e in recent_store(page) if e["state"] == "sent"}
    assert sorted(sent) == ["Bagus", "Dewi"]

    # Reloaded online, the server's rows include the two sent scans: each is listed once, as
    # the server's row (paired by nonce) marked as sent from this phone, never twice. The
    # server's rows carry the phone's scan time, so the list stays in the order of scanning.
    page.reload()
    page.wait_for_selector("#scan-payload")
    wait_until(page, "document.querySelectorAll('#recent-list li.local').length > 0")
    rows = all_rows(page)
    assert rows[:2] == [
        ["local", "refused", "invalid", "—"],
        ["local", "refused", "cancelled", f"Tiket #{gone['id']}"],
    ]
    assert sorted(rows[2:]) == [["server", "sent", "", "Bagus"], ["server", "sent", "", "Dewi"]]
    for first_name, nonce in sent.items():
        assert page.locator(f"#recent-list li[data-nonce='{nonce}']").count() == 1
        assert page.locator("#recent-list .recent-name", has_text=first_name).count() == 1
        assert page.locator(f"#recent-list li[data-nonce='{nonce}'] .state-sent").count() == 1
    # The phone keeps its copies: only the list shows each scan once.
    assert len(recent_store(page)) == 4
    assert serious_violations(page) == []
    listed = page.locator("#recent-list").inner_text()
    assert "Lestari" not in listed and "Prasetyo" not in listed and "Fajar" not in listed
    assert unexpected(problems) == []
    context.close()


SEED_RECENT = """async ([slug, count]) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('youth-hub-scan');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const oldest = Date.now() - 2 * 3600 * 1000;
  await new Promise((resolve, reject) => {
    const tx = db.transaction('recent', 'readwrite');
    for (let i = 0; i < count; i++) {
      tx.objectStore('recent').put({
        id: 'seed-' + String(i).padStart(2, '0'), program: slug,
        at: new Date(oldest + i * 60000).toISOString(), ticket_id: null,
        local: 'invalid', state: 'refused', server: null, first_name: ''
      });
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}"""


def test_offline_list_keeps_the_newest_50_scans(
    browser: Any, live: Any, seed: Any, settings: Settings
) -> None:
    scene = seed(_door)
    dewi = scene["people"]["Dewi"]
    slug = scene["program"]["slug"]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    problems = watch_errors(page)
    sign_in(page, live, scene["scanner"]["email"])
    page.wait_for_selector("#scan-app")
    wait_until(page, f"localStorage.getItem('yh-bundle:{slug}') !== null")
    # The store already full: 50 earlier offline answers (seed-00 the oldest), written
    # straight into IndexedDB; the 51st comes from a real scan, so scan.js does the trimming.
    wait_async(page, "indexedDB.databases().then(d => d.some(x => x.name === 'youth-hub-scan'))")
    page.evaluate(SEED_RECENT, [slug, 50])
    assert len(recent_store(page)) == 50

    context.set_offline(True)
    wait_until(page, "!navigator.onLine")
    scan(page, sign_ticket(settings.data_dir, dewi["id"], dewi["program"]))
    wait_until(page, "document.getElementById('queue-count').textContent === '1'")
    wait_until(page, "document.querySelector('#recent-list li.local[data-state=queued]') !== null")

    kept = recent_store(page)
    ids = {e["id"] for e in kept}
    assert len(kept) == 50
    assert "seed-00" not in ids  # the oldest dropped
    assert {f"seed-{i:02d}" for i in range(1, 50)} <= ids
    new = [e for e in kept if not e["id"].startswith("seed-")]
    assert [(e["state"], e["local"], e["ticket_id"]) for e in new] == [("queued", "ok", dewi["id"])]
    assert page.locator("#recent-list li.local").count() == 50
    assert local_rows(page)[0] == ["queued", "ok", f"Tiket #{dewi['id']}"]
    assert unexpected(problems) == []
    context.close()
