"""The /produce page in a real browser with an emulated strap: Debian's headless Chromium (driven by
Playwright, never `playwright install`), its DevTools `BluetoothEmulation` domain at the browser
target as the central and a peripheral with the Heart Rate, Battery and Cycling Power services,
and the device chooser answered through `DeviceAccess`. A real `wearstream broker` (SQLite data dir) is SIGKILLed
while the strap keeps sending and started again on the same port; then the strap drops its
connection (`simulateGATTDisconnection`) and the page connects it again. A plain consumer must
receive every reading the page decoded, in order, once. (After a simulated disconnection Chromium
has forgotten the peripheral's services, as after a real one: the emulated strap adds them again
before it answers the next discovery.) Around that: the link opened first in a Chromium without
Web Bluetooth is refused there and stays usable; a reload goes live again without a link; the
spent link is refused in another profile; revoking the developer stops the page with the reason.

Pushing a notification. Chromium 156's BluetoothEmulation has no command that sends an unsolicited
notification (its characteristic operations are read, write, subscribe and unsubscribe, each
answered by `simulateCharacteristicOperationResponse`). A value still reaches the page the way a
notification does: the test reads the characteristic from inside the page (through
`navigator.bluetooth.getDevices()`, the same characteristic object the page holds) and answers the
read with the value's bytes; Blink fires `characteristicvaluechanged` on that object, the event the
page listens to for notifications. The page itself subscribed with `startNotifications()` (answered
over the protocol), as on a real strap. The emulated Heart Rate Measurement is therefore readable,
which a real strap's is not; the page never reads it.

The link comes from `wearstream producer-link`, as a developer mints it. Saves a screenshot to
tests/artifacts/web-producer.png, and to docs/web-producer.png when that is
missing or WEARSTREAM_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import attrs
import httpx
import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from wearstream.adapters.storage.sqlite import SqliteStreamLog, database_path
from wearstream.domain.stream import ReplayRange
from wearstream.testing.bluez_payloads import encode_heart_rate
from wearstream.testing.fixtures import start_broker
from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    wearstream_command,
)

CHROMIUM = "/usr/bin/chromium"
PLAIN_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Web Bluetooth is experimental on Linux: off unless asked for
CHROMIUM_ARGS = [*PLAIN_ARGS, "--enable-features=WebBluetooth", "--enable-experimental-web-platform-features"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "tests" / "artifacts" / "web-producer.png"
DOCS_SCREENSHOT = ROOT / "docs" / "web-producer.png"
USER = "phone-runner"
ADDRESS = "0A:0B:0C:0D:0E:0F"
STRAP_NAME = "HRM-Dual:042"
BATTERY_LEVEL = 87
# Notifications are sent in phases: before the kill, while the broker is down, after the restart,
# and after the strap dropped its connection and the page connected it again.
PHASES = ("before", "down", "after", "strap dropped")
PER_PHASE = 15
POWER_VALUES = 3
WAIT_MS = 60_000
HEARTBEAT_MS = 1000
PORT = re.compile(r":(\d+)")


def uuid16(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


# The emulated sensor's services, each with the one characteristic the page follows in it.
SERVICES = {
    "heart rate": (uuid16(0x180D), uuid16(0x2A37)),
    "battery": (uuid16(0x180F), uuid16(0x2A19)),
    "cycling power": (uuid16(0x1818), uuid16(0x2A63)),
}
CCCD = uuid16(0x2902)  # Client Characteristic Configuration: what startNotifications() writes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


# Heart rate as uint16 (flags 0x01) with one byte of it: "truncated heart rate value at offset 1".
MALFORMED = bytes([0x01, 0x48])


def power(i: int) -> bytes:
    """The i-th Cycling Power Measurement: flags 0 and the instantaneous power, 200 + i W."""
    return bytes([0, 0]) + (200 + i).to_bytes(2, "little", signed=True)


def notification(i: int) -> bytes:
    """The i-th Heart Rate Measurement: a bpm and one RR interval, both telling i apart."""
    return encode_heart_rate(60 + i, contact=True, rr_1024=[700 + i])


class EmulatedStrap:
    """A powered central and a strap with heart rate, battery and cycling power (a sensor that
    offers more than heart rate), over the browser target's BluetoothEmulation domain; answers
    every GATT operation the page makes. A read answers the next value pushed for that
    characteristic (the battery: its level)."""

    def __init__(self, browser: Any) -> None:
        self.cdp = browser.new_browser_cdp_session()
        self.pending: dict[str, list[bytes]] = {name: [] for name in SERVICES}
        self.subscribed: list[str] = []  # the service's name, once per subscription
        self.ids: dict[str, str] = {}  # characteristic id -> service name
        self.dropped = False
        self.cdp.on("BluetoothEmulation.gattOperationReceived", self._gatt)
        self.cdp.on("BluetoothEmulation.characteristicOperationReceived", self._characteristic)
        self.cdp.send("BluetoothEmulation.enable", {"state": "powered-on", "leSupported": True})
        self.cdp.send("BluetoothEmulation.simulatePreconnectedPeripheral", {
            "address": ADDRESS, "name": STRAP_NAME, "manufacturerData": [],
            "knownServiceUuids": [service for service, _ in SERVICES.values()],
        })
        self._add_services()

    def _add_services(self) -> None:
        self.ids = {self._characteristic_of(*uuids): name for name, uuids in SERVICES.items()}

    def _characteristic_of(self, service_uuid: str, uuid: str) -> str:
        service = self.cdp.send("BluetoothEmulation.addService", {"address": ADDRESS, "serviceUuid": service_uuid})
        properties = {"notify": True, "read": True}
        characteristic = self.cdp.send("BluetoothEmulation.addCharacteristic", {
            "serviceId": service["serviceId"], "characteristicUuid": uuid, "properties": properties,
        })["characteristicId"]
        self.cdp.send("BluetoothEmulation.addDescriptor", {"characteristicId": characteristic, "descriptorUuid": CCCD})
        return str(characteristic)

    def drop(self) -> None:
        """The strap disconnects; its services are discovered again on the next connection."""
        self.cdp.send("BluetoothEmulation.simulateGATTDisconnection", {"address": ADDRESS})
        self.dropped = True

    def wait_subscribed(self, count: int, page: Any) -> None:
        """Let the page run until it has made ``count`` subscriptions in all."""
        for _ in range(WAIT_MS // 50):
            if len(self.subscribed) >= count:
                return
            page.wait_for_timeout(50)
        raise AssertionError(f"the page subscribed {len(self.subscribed)} times, not {count}")

    def _gatt(self, event: dict[str, Any]) -> None:  # connection, discovery: both succeed
        if event["type"] == "discovery" and self.dropped:  # a disconnection forgets the services
            self._add_services()
            self.dropped = False
        self.cdp.send("BluetoothEmulation.simulateGATTOperationResponse",
                      {"address": event["address"], "type": event["type"], "code": 0})

    def _characteristic(self, event: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"characteristicId": event["characteristicId"], "type": event["type"], "code": 0}
        name = self.ids[event["characteristicId"]]
        if event["type"] == "subscribe-to-notifications":
            self.subscribed.append(name)
        elif event["type"] == "read":
            value = bytes([BATTERY_LEVEL]) if name == "battery" else self.pending[name].pop(0)
            answer["data"] = base64.b64encode(value).decode()
        self.cdp.send("BluetoothEmulation.simulateCharacteristicOperationResponse", answer)


# Reads one of the strap's characteristics through the page's own objects (see the docstring).
DELIVER = """async ([service, name, count]) => {
  const [device] = await navigator.bluetooth.getDevices();
  const characteristic = await (await device.gatt.getPrimaryService(service)).getCharacteristic(name);
  for (let i = 0; i < count; i += 1) {
    await characteristic.readValue();
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}"""


def push(page: Any, strap: EmulatedStrap, service: str, values: list[bytes]) -> None:
    """Values of one characteristic, one after the other, as notifications reach the page."""
    strap.pending[service].extend(values)
    where = {"heart rate": ("heart_rate", "heart_rate_measurement"),
             "cycling power": ("cycling_power", "cycling_power_measurement")}[service]
    page.evaluate(DELIVER, [*where, len(values)])


def answer_chooser(page: Any) -> None:
    """Pick the strap in the device chooser, once per prompt (Chromium re-announces a prompt as
    its device list fills; a second answer to one prompt is a fatal error in the browser)."""
    session = page.context.new_cdp_session(page)
    answered: set[str] = set()

    def prompted(event: dict[str, Any]) -> None:
        devices = [d for d in event["devices"] if d["id"] == ADDRESS]
        if devices and event["id"] not in answered:
            answered.add(event["id"])
            session.send("DeviceAccess.selectPrompt", {"id": event["id"], "deviceId": ADDRESS})

    session.on("DeviceAccess.deviceRequestPrompted", prompted)
    session.send("DeviceAccess.enable")


def without_web_bluetooth(playwright: Any, url: str) -> list[Any]:
    """The link opened in a browser without Web Bluetooth (Chromium on Linux by default): the
    page says so and leaves the link unspent."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=PLAIN_ARGS, headless=True)
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("() => /no Web Bluetooth/.test(document.getElementById('message').textContent)")
        return [page.url == url, page.is_disabled("#choose")]
    finally:
        browser.close()


def drive(url: str, first: BrokerProcess, second: BrokerProcess, revoke: Callable[[], None]) -> dict[str, Any]:
    """Open the link, choose the strap, stream the phases around a broker kill and restart and
    a strap that drops out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        no_bluetooth = without_web_bluetooth(playwright, url)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            strap = EmulatedStrap(browser)
            page = browser.new_page(viewport={"width": 420, "height": 760})
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            warnings: list[str] = []
            page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
            answer_chooser(page)
            page.goto(url)
            page.wait_for_selector("#choose:not([disabled])")
            address_bar = page.url
            page.click("#choose")
            page.wait_for_function("() => /heart rate.*cycling power/.test(document.getElementById('device').textContent)")
            page.wait_for_function("() => document.getElementById('link').textContent === 'live'")
            sent = 0
            for phase in PHASES:
                if phase == "down":
                    first.kill()  # SIGKILL: what it stored but had not acknowledged is sent again
                if phase == "after":
                    second.start()
                if phase == "strap dropped":  # the strap goes out of range and comes back
                    strap.drop()
                    strap.wait_subscribed(2 * len(SERVICES), page)
                    page.wait_for_function("() => /heart rate/.test(document.getElementById('device').textContent)")
                if phase == "before":  # power from the same sensor, between heart rates
                    push(page, strap, "cycling power", [power(i) for i in range(POWER_VALUES)])
                if phase == "after":  # a value cut short: skipped, as the Python producer skips it
                    push(page, strap, "heart rate", [MALFORMED])
                push(page, strap, "heart rate", [notification(sent + i) for i in range(PER_PHASE)])
                sent += PER_PHASE
                if phase == "down":
                    page.wait_for_function(
                        f"() => Number(document.getElementById('queued').textContent) >= {PER_PHASE}"
                    )
                    queued_while_down = page.text_content("#queued")
                    link_while_down = page.text_content("#link")
            page.wait_for_function(
                "() => document.getElementById('queued').textContent === '0'"
                " && document.getElementById('link').textContent === 'live'"
            )
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            seen = {
                "no_bluetooth": no_bluetooth, "errors": errors, "warnings": warnings, "address_bar": address_bar, "sent": sent,
                "subscribed": sorted(strap.subscribed),
                "queued_while_down": queued_while_down, "link_while_down": link_while_down,
                "battery": page.text_content("#battery"), "value": page.text_content("#value"),
                "user": page.text_content("#user"), "delivered": page.text_content("#delivered"),
                "stored": page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]"),
            }
            page.reload()  # the credential is kept: the page goes live again without a link
            page.wait_for_function("() => document.getElementById('link').textContent === 'live'")
            seen["reloaded_user"] = page.text_content("#user")
            spent = browser.new_page()  # another browser profile: no credential, the code is spent
            spent.goto(url)
            spent.wait_for_function("() => /ask for a new one/.test(document.getElementById('message').textContent)")
            seen["spent"] = [spent.url, spent.text_content("#message"), spent.is_disabled("#choose")]
            revoke()  # the broker closes the page with 4009: it stops and says why
            page.wait_for_function("() => document.getElementById('link').className === 'stopped'")
            seen["revoked"] = page.text_content("#message")
            return seen
        finally:
            browser.close()


@attrs.define
class Collector:
    """A Terra consumer (opted in to extension types: BATTERY) that reconnects and asks for
    REPLAY after the last seq it has."""

    dev: DeveloperCredentials
    ws_url: str = ""
    api_url: str = ""
    payloads: dict[int, dict[str, Any]] = attrs.field(factory=dict)

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except* (HandshakeError, ConnectionClosed, httpx.HTTPError, OSError):
                pass  # the broker is being restarted, or revoked the developer: try again
            await trio.sleep(0.1)

    async def _session(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(self.api_url + "/auth/developer", headers=self.dev.headers())
            response.raise_for_status()
            token = response.json()["token"]
        async with open_websocket_url(self.ws_url) as ws:
            await ws.get_message()  # HELLO
            identify = {"op": 3, "d": {"token": token, "type": 1, "extensions": True}}
            await ws.send_message(orjson.dumps(identify).decode())
            assert orjson.loads(await ws.get_message())["op"] == 4
            if self.payloads:
                replay = {"op": 7, "d": {"after": max(self.payloads), "before": 2**53}}
                await ws.send_message(orjson.dumps(replay).decode())
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._heartbeat, ws)
                while True:
                    frame = orjson.loads(await ws.get_message())
                    if frame["op"] == 5:
                        seen = self.payloads.setdefault(frame["seq"], frame)
                        assert seen == frame, f"seq {frame['seq']} came back different"

    async def _heartbeat(self, ws: Any) -> None:
        while True:
            await trio.sleep(HEARTBEAT_MS / 1000 / 2)
            await ws.send_message('{"op": 0}')

    def of_type(self, t: str) -> list[dict[str, Any]]:
        return [self.payloads[seq]["d"] for seq in sorted(self.payloads) if self.payloads[seq]["t"] == t]

    async def wait_for(self, count: int, timeout: float) -> None:
        with trio.fail_after(timeout):
            while len(self.payloads) < count:
                await trio.sleep(0.05)


def revoke(data: Path, dev: DeveloperCredentials) -> None:
    command = [*wearstream_command(), "developers", "revoke", dev.dev_id, "--data-dir", str(data)]
    subprocess.run(command, check=True, capture_output=True, timeout=60, env=clean_environment())


async def producer_link(broker: BrokerProcess, dev: DeveloperCredentials, user: str) -> str:
    """The URL `wearstream producer-link USER` prints under its QR code, as a developer runs it."""
    env = {**clean_environment(), "WEARSTREAM_DEV_ID": dev.dev_id, "WEARSTREAM_API_KEY": dev.api_key}
    command = [*wearstream_command(), "producer-link", user, "--api-url", broker.http_url]
    done = await trio.run_process(command, env=env, capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    *qr, url, _ = done.stdout.decode().splitlines()
    assert qr and url.startswith(f"{broker.http_url}/produce#link=")
    return url


async def test_a_browser_tab_streams_an_emulated_strap_through_a_broker_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dev = await trio.to_thread.run_sync(create_developer, data, "web")
    # A heartbeat every second (Terra's 40 s would never come up in this test): the page must keep it.
    beats = {"heartbeat_interval": HEARTBEAT_MS}
    first = await BrokerProcess.create(data, log_dir=tmp_path / "broker-1", **beats).start_async()
    ports = ["--port", PORT.findall(first.ws_url)[-1], "--http-port", PORT.findall(first.http_url)[-1]]
    second = BrokerProcess.create(data, log_dir=tmp_path / "broker-2", extra=ports, **beats)
    collector = Collector(dev, first.ws_url, first.http_url)
    url = await producer_link(first, dev, USER)
    # a heart rate and an RR interval per notification, the power values, a battery level per
    # connection to the strap
    expected = len(PHASES) * PER_PHASE * 2 + POWER_VALUES + 2
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collector.run)

            def revoke_when_all_arrived() -> None:  # revoking closes the consumer too
                trio.from_thread.run(collector.wait_for, expected, 30)
                revoke(data, dev)

            seen = await trio.to_thread.run_sync(drive, url, first, second, revoke_when_all_arrived)
            nursery.cancel_scope.cancel()
    finally:
        first.kill()
        if second.running:
            assert second.stop() == 0, second.output()

    assert seen["errors"] == [], seen["errors"]
    assert seen["warnings"] == [
        "skipped a malformed value: Heart Rate Measurement (0x2A37): truncated heart rate value "
        "(needs 2 bytes, 1 left) at offset 1"
    ]
    assert seen["no_bluetooth"] == [True, True]  # said so, kept the link, which then worked here
    assert "#link" not in seen["address_bar"] and seen["user"] == seen["reloaded_user"] == USER
    # to notifications of both characteristics, and again after the strap came back
    assert seen["subscribed"] == sorted(list(SERVICES) * 2)
    assert int(seen["queued_while_down"]) >= PER_PHASE and seen["link_while_down"] != "live"
    assert seen["battery"] == f"{BATTERY_LEVEL} %" and seen["value"] == str(60 + seen["sent"] - 1)
    assert seen["stored"] == [0, 0, ""] and int(seen["delivered"]) == expected
    spent_url, spent_message, spent_button_disabled = seen["spent"]
    assert "#link" not in spent_url and "already used" in spent_message and spent_button_disabled
    assert "developer was revoked" in seen["revoked"]
    # Every reading once, in the strap's order, decoded as the Python producer decodes it.
    hr = collector.of_type("HEART_RATE")
    rr = collector.of_type("RR_INTERVAL")
    assert [d["val"] for d in hr] == [60 + i for i in range(seen["sent"])]
    assert [d["val"] for d in rr] == [(700 + i) / 1024 * 1000 for i in range(seen["sent"])]
    assert [d["val"] for d in collector.of_type("BATTERY")] == [BATTERY_LEVEL] * 2
    assert [d["val"] for d in collector.of_type("POWER")] == [200 + i for i in range(POWER_VALUES)]
    assert len(collector.payloads) == expected
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
    assert all(stamp.fullmatch(d["ts"]) for d in hr + rr)
    assert [d["ts"] for d in hr] == sorted(d["ts"] for d in hr)
    # In the broker's log: the page's SUBMIT ids, consecutive from 1, from one source, once each.
    log = await SqliteStreamLog.open(database_path(data))
    try:
        stored = await log.read_range(dev.dev_id, ReplayRange(0, 2**53), 10**6)
    finally:
        await log.aclose()
    keys = [p.key for p in stored]
    assert all(k is not None for k in keys) and len({k.source for k in keys}) == 1  # type: ignore[union-attr]
    assert [k.counter for k in keys] == list(range(1, expected + 1))  # type: ignore[union-attr]
    # The page kept the heartbeat (a second here): no connection of it was closed for missing one.
    closes = [line for b in (first, second) for line in b.output().splitlines() if '"event":"close"' in line]
    assert any(f'"user":"{USER}"' in line for line in closes)
    assert not [line for line in closes if '"code":4005' in line]
    assert SCREENSHOT.stat().st_size > 5_000
    if os.environ.get("WEARSTREAM_UPDATE_SCREENSHOTS") == "1" or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.write_bytes(SCREENSHOT.read_bytes())


def open_until_live(url: str) -> str:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("() => document.getElementById('link').textContent === 'live'", timeout=WAIT_MS)
            return str(page.url)
        finally:
            browser.close()


async def test_a_page_served_from_the_http_api_port_finds_connect(nursery: trio.Nursery) -> None:
    """With --http-port the API has a port of its own, without /connect: a link minted there opens
    the page there, and the page finds the WebSocket port the broker names."""
    broker = await start_broker(nursery, "produce-http-port", http_port=0)
    assert PORT.findall(broker.api_url)[-1] != PORT.findall(broker.ws_url)[-1]
    dev = DeveloperCredentials(broker.dev_id, broker.api_key)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{broker.api_url}/auth/producer-link", params={"id": USER}, headers=dev.headers())
    url = response.json()["url"]
    assert url.startswith(broker.api_url + "/produce#link=")
    assert (await trio.to_thread.run_sync(open_until_live, url)) == broker.api_url + "/produce"
