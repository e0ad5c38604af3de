"""The broker driven by a web page in Chromium: `new WebSocket(...)` of Debian's headless
Chromium (/usr/bin/chromium, launched by Playwright through executable_path, never `playwright
install`), running tests/interop/browser_client.js, over ws:// and wss://."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import Interop, check_round_trip, readings_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCENARIO = Path(__file__).with_name("roundtrip_scenario.js")
CLIENT = Path(__file__).with_name("browser_client.js")
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def run_in_chromium(arguments: dict[str, Any], *, tls: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            # The test's CA is in no trust store Chromium reads; over wss:// the page is told to
            # accept the broker's certificate instead (BoringSSL still does the whole handshake).
            page = browser.new_page(ignore_https_errors=tls)
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.set_content("<!doctype html><title>wearstream interop</title>")
            page.add_script_tag(path=str(SCENARIO))
            page.add_script_tag(path=str(CLIENT))
            result = page.evaluate("(arguments) => window.roundTrip(arguments)", arguments)
            assert errors == []
            return dict(result)
        finally:
            browser.close()


def test_round_trip_with_chromium(any_broker: Interop) -> None:
    sent = readings_for("chromium")
    broker = any_broker
    arguments = {
        "wsUrl": broker.ws_url,
        "consumerToken": broker.mint(broker.shared),
        "producerToken": broker.mint(broker.shared, sent["user"]),
        "sent": sent,
    }
    check_round_trip(run_in_chromium(arguments, tls=broker.ca is not None), sent)
