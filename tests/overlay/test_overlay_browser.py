"""The overlay in a real browser (Debian's headless Chromium, driven by Playwright), as OBS shows
it: a producer sends heart rates, the page's value follows them, the heart beats at that rate, the
background is transparent; another user's readings never appear; a wrong token and a token that
expires while the page is open are said so on the page. Saves a screenshot of the overlay to
tests/artifacts/overlay.png, and to docs/overlay.png (committed, shown in docs/integrations.md)
when that is missing or WEARSTREAM_UPDATE_SCREENSHOTS=1, so that running the suite leaves the
work tree clean.

Playwright's sync API runs its own event loop, so the browser runs in a worker thread while the
broker and the producers run in this test's trio nursery (as tests/dashboard/test_browser.py).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
import trio

from wearstream.testing.fixtures import LiveBroker
from wearstream.testing.numbered_producer import identified_producer

from .conftest import overlay_token, send_value, token_expiring

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "tests" / "artifacts" / "overlay.png"
DOCS_SCREENSHOT = ROOT / "docs" / "overlay.png"
ALICE = [62, 64, 67, 71, 76, 82, 88, 93, 97, 101, 104, 106]  # a warm-up
BOB = 190  # bob's readings: 190 and up, which must never show on alice's overlay
WAIT_MS = 10_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def drive(url: str, wrong_url: str, expiring_url: Callable[[], str]) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            expiring = browser.new_page()  # opened first: its token expires while we watch the other
            assert expiring.goto(expiring_url()).status == 200  # type: ignore[union-attr]
            page = browser.new_page(viewport={"width": 520, "height": 220})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            seen: list[str] = []
            for _ in range(6):  # the value as it changes
                page.wait_for_function(
                    "(last) => { const v = document.getElementById('value').textContent;"
                    " return /^\\d+$/.test(v) && v !== last; }",
                    arg=seen[-1] if seen else "", timeout=WAIT_MS,
                )
                seen.append(page.text_content("#value") or "")
            looks = page.evaluate(
                """() => ({
                    unit: document.getElementById('unit').textContent,
                    beat: getComputedStyle(document.getElementById('heart')).animationDuration,
                    value: document.getElementById('value').textContent,
                    heartShown: !document.getElementById('heart').hidden,
                    color: getComputedStyle(document.getElementById('value')).color,
                    size: getComputedStyle(document.getElementById('overlay')).fontSize,
                    background: [getComputedStyle(document.body).backgroundColor,
                                 getComputedStyle(document.documentElement).backgroundColor],
                })"""
            )
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.locator("#overlay").screenshot(path=str(SCREENSHOT), omit_background=True)
            wrong = browser.new_page()
            wrong_status = wrong.goto(wrong_url).status  # type: ignore[union-attr]
            wrong_text = wrong.text_content("body")
            expiring.wait_for_selector("#problem:not([hidden])", timeout=WAIT_MS)
            return {
                "seen": seen, "looks": looks, "errors": errors, "wrong": (wrong_status, wrong_text),
                "expired": expiring.text_content("#problem"),
                "expired_value_hidden": expiring.is_hidden("#overlay"),
            }
        finally:
            browser.close()


async def test_the_overlay_follows_the_producer_in_chromium(broker: LiveBroker, nursery: trio.Nursery) -> None:
    token = await overlay_token(broker, "alice")
    base = f"{broker.api_url}/overlay/alice?type=HEART_RATE"
    url = f"{base}&color=%23ff3355&size=120&token={token}"
    sent: list[int] = []

    async def produce() -> None:
        args = (broker.api_url, broker.ws_url, broker.dev_id, broker.api_key)
        async with identified_producer(*args, "alice") as alice, identified_producer(*args, "bob") as bob:
            while True:
                for value in ALICE:
                    await send_value(bob, BOB + len(sent) % 20)
                    await send_value(alice, value)
                    sent.append(value)
                    await trio.sleep(0.8)

    nursery.start_soon(produce)

    def expiring_url() -> str:  # minted as the browser opens it, so a slow launch cannot spoil it
        expiring = trio.from_thread.run(token_expiring, broker, "alice", timedelta(seconds=4))
        return f"{base}&token={expiring}"

    seen = await trio.to_thread.run_sync(drive, url, f"{base}&token=ov1.bad.token", expiring_url)
    assert seen["errors"] == []
    values = [int(v) for v in seen["seen"]]
    assert set(values) <= set(ALICE) and len(set(values)) >= 3  # follows alice, never bob
    ahead = [(ALICE.index(b) - ALICE.index(a)) % len(ALICE) for a, b in zip(values, values[1:])]
    assert all(0 < step <= len(ALICE) // 2 for step in ahead), values  # forward, in her order
    looks = seen["looks"]
    assert looks["unit"] == "bpm" and looks["heartShown"]
    assert looks["color"] == "rgb(255, 51, 85)" and looks["size"] == "120px"
    assert looks["background"] == ["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)"]  # transparent for OBS
    beat = float(looks["beat"].rstrip("s"))
    assert beat == pytest.approx(60 / int(looks["value"]), abs=0.01)  # one pulse per heartbeat
    assert seen["wrong"][0] == 403 and "not valid" in seen["wrong"][1]
    assert "expired on" in seen["expired"] and seen["expired_value_hidden"]
    assert SCREENSHOT.stat().st_size > 2_000
    if os.environ.get("WEARSTREAM_UPDATE_SCREENSHOTS") == "1" or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.write_bytes(SCREENSHOT.read_bytes())
