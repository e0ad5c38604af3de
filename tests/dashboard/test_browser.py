"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, against an
in-process broker with simulated producers. Signs in, sees heart rates change, makes a producer
link with the "Stream a phone" form (a refused user id first: one line), and saves a screenshot
to tests/artifacts/dashboard.png; the link the page shows then opens once.

Playwright's sync API runs its own event loop, so the browser part runs in a worker thread
(trio.to_thread) while the broker and the producers run in this test's trio nursery.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from wearstream.testing.fixtures import LiveBroker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
USERS = {"alice": "sim:hr-strap?rate=5&seed=1", "bob": "sim:footpod?rate=5&seed=2"}
WAIT_MS = 10_000
PHONE_USER = "carol"
TOO_LONG = "x" * 129  # user ids are 1-128 characters

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def hr_of(user: str) -> str:
    return f'.tile[data-uid="{user}"] .hr-value'


def drive(url: str, dev_id: str, api_key: str, screenshot: Path) -> dict[str, Any]:
    """Sign in, watch alice's heart rate change, look for the key anywhere, take a screenshot."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.fill("#dev-id", dev_id)
            page.fill("#api-key", api_key)
            page.click("#sign-in button[type=submit]")
            page.wait_for_function(
                "(sel) => /^\\d+$/.test(document.querySelector(sel)?.textContent ?? '')",
                arg=hr_of("alice"), timeout=WAIT_MS,
            )
            first = page.text_content(hr_of("alice"))
            page.wait_for_function(
                "([sel, first]) => document.querySelector(sel).textContent !== first",
                arg=[hr_of("alice"), first], timeout=WAIT_MS,
            )
            page.wait_for_function(
                "() => document.getElementById('stat-rate-in').textContent !== '–'", timeout=WAIT_MS
            )
            page.fill("#link-user", TOO_LONG)
            page.click("#producer-link button[type=submit]")
            page.wait_for_function("() => document.getElementById('link-error').textContent !== ''", timeout=WAIT_MS)
            refused = page.text_content("#link-error")
            page.fill("#link-user", PHONE_USER)
            page.click("#producer-link button[type=submit]")
            page.wait_for_function(
                "() => document.getElementById('link-qr').complete"
                " && document.getElementById('link-qr').naturalWidth > 0",
                timeout=WAIT_MS,
            )
            page.wait_for_timeout(1500)  # a little more chart for the screenshot
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            return {
                "first": first,
                "later": page.text_content(hr_of("alice")),
                "state": page.text_content("#state"),
                "charts": page.eval_on_selector_all(".tile .chart", "figures => figures.length"),
                "online": page.text_content('.tile[data-uid="alice"] .link'),
                "stored": page.evaluate(
                    "() => [localStorage.length, sessionStorage.length, document.cookie,"
                    " document.getElementById('api-key').value]"
                ),
                "errors": errors,
                "refused": refused,
                "link": page.evaluate(
                    "() => ({url: document.getElementById('link-url').value,"
                    " qr: document.getElementById('link-qr').getAttribute('src').slice(0, 26),"
                    " size: document.getElementById('link-qr').naturalWidth,"
                    " error: document.getElementById('link-error').textContent,"
                    " shown: !document.getElementById('link').hidden,"
                    " text: document.getElementById('link').innerText})"
                ),
            }
        finally:
            browser.close()


async def test_the_dashboard_shows_live_heart_rates_in_chromium(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    for user, spec in USERS.items():  # wired as `wearstream demo` wires them
        nursery.start_soon(broker.producer(user, [spec]).run)
    screenshot = ARTIFACTS / "dashboard.png"
    seen = await trio.to_thread.run_sync(drive, broker.api_url + "/", broker.dev_id, broker.api_key, screenshot)
    assert seen["errors"] == []
    assert seen["state"] == "live" and seen["online"] == "producer online"
    assert seen["first"] != seen["later"] and 30 < int(seen["later"]) < 220
    assert seen["charts"] >= 2  # alice's heart rate and RR intervals at least, bob's footpod
    assert seen["stored"] == [0, 0, "", ""]  # the key is kept nowhere in the page
    assert screenshot.stat().st_size > 10_000

    assert seen["refused"].startswith(f'no link for "{TOO_LONG}" (400): ') and "\n" not in seen["refused"]
    link = seen["link"]
    assert link["shown"] and link["error"] == "" and link["qr"] == "data:image/svg+xml;charset"
    assert link["size"] > 100 and PHONE_USER in link["text"] and "15 min" in link["text"]
    assert link["url"].startswith(f"{broker.api_url}/produce#link=")
    code = link["url"].partition("#link=")[2]
    async with httpx.AsyncClient() as client:
        first = await client.post(broker.api_url + "/produce/session", json={"link": code})
        again = await client.post(broker.api_url + "/produce/session", json={"link": code})
    assert first.status_code == 200 and first.json()["user_id"] == PHONE_USER
    assert again.status_code == 403
