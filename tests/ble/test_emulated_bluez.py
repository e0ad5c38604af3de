"""The real BleTransport and the real bleak BlueZ backend against an emulated BlueZ on a private
dbus-daemon (wearstream.testing.bluez): scanning, streaming, drops, removals, BlueZ errors."""

from __future__ import annotations

import pytest
import trio

from wearstream.adapters.ble.mapping import DEFAULT_WHEEL_CIRCUMFERENCE_M
from wearstream.adapters.ble.spec import parse_spec
from wearstream.adapters.ble.transport import BleSource, BleTransport
from wearstream.adapters.ble.gatt import uuid16
from wearstream.domain.backoff import Backoff
from wearstream.domain.errors import DeviceUnavailable
from wearstream.testing.bluez import (
    BATTERY_PERCENT,
    HEART_RATE_SERVICE,
    cadence_sensor,
    dbus_daemon,
    emulated_bluez,
    footpod,
    heart_rate_strap,
    not_a_sensor,
    strap_rr_1024,
    strap_value,
)
from wearstream.testing.bluez_objects import CharacteristicPlan, PeripheralPlan
from wearstream.testing.fake_device import EventRecorder

from .conftest import needs_dbus

pytestmark = [pytest.mark.e2e, needs_dbus]

STRAP = heart_rate_strap()
CADENCE = cadence_sensor()
FOOTPOD = footpod()


def fast_source(spec: str, find_timeout: float = 2.0) -> BleSource:
    """A source that retries quickly, so that reconnect tests take a fraction of a second."""
    return BleSource(parse_spec(spec), backoff=Backoff(initial=0.05, maximum=0.2), find_timeout=find_timeout)


def connections(recorder, connected: bool) -> list:
    return [s for s in recorder.statuses if s.connected is connected and s.battery is None]


async def test_scan_finds_sensors_by_service(tmp_path):
    async with emulated_bluez(tmp_path, STRAP, CADENCE, not_a_sensor()):
        devices = await BleTransport().scanner().scan(0.5)
    by_id = {d.id: d for d in devices}
    assert set(by_id) == {STRAP.address, CADENCE.address}  # not the headphones
    strap = by_id[STRAP.address]
    assert (strap.name, strap.transport) == ("Polar H10 0001", "ble")
    assert strap.services == ("Heart Rate", "Battery")
    assert {"HEART_RATE", "RR_INTERVAL", "BATTERY"} <= set(strap.data_types)
    assert "BIKE_CADENCE" in by_id[CADENCE.address].data_types


async def test_streams_a_heart_rate_strap_by_name(tmp_path, recorder):
    source = BleTransport().open("name=polar*")
    async with emulated_bluez(tmp_path, STRAP, CADENCE), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "user-1", recorder)
        await recorder.until(lambda: min(recorder.count("HEART_RATE"), recorder.count("RR_INTERVAL")) >= 5)
        nursery.cancel_scope.cancel()

    assert recorder.statuses[0].connected and recorder.statuses[0].device_id == STRAP.address
    assert any(s.battery == BATTERY_PERCENT for s in recorder.statuses)
    assert recorder.values("BATTERY")[0] == BATTERY_PERCENT
    bpm = recorder.values("HEART_RATE")
    assert bpm[:5] == [61, 62, 63, 64, 65]  # the strap's 1st, 2nd, … notifications
    rr = recorder.values("RR_INTERVAL")
    assert rr[:5] == [strap_rr_1024(n) / 1024 * 1000 for n in range(1, 6)]
    assert {(s.user_id, s.device_id) for s in recorder.samples} == {("user-1", STRAP.address)}
    assert source.device.id == STRAP.address and source.device.name == "Polar H10 0001"
    assert source.device.battery == BATTERY_PERCENT


async def test_cadence_sensor_speed_cadence_and_distance_across_rollover(tmp_path, recorder):
    source = fast_source(CADENCE.address)
    async with emulated_bluez(tmp_path, STRAP, CADENCE), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        # the crank counter starts at 65533 and rolls over within the first notifications
        await recorder.until(lambda: recorder.count("BIKE_CADENCE") >= 4)
        nursery.cancel_scope.cancel()
    assert set(recorder.values("BIKE_CADENCE")) == {90.0}
    assert recorder.values("SPEED") == pytest.approx([4 * DEFAULT_WHEEL_CIRCUMFERENCE_M] * recorder.count("SPEED"))
    distances = recorder.values("DISTANCE")
    assert distances == sorted(distances) and distances[-1] > 0


async def test_footpod_speed_and_step_cadence(tmp_path, recorder):
    source = fast_source(FOOTPOD.address)
    async with emulated_bluez(tmp_path, FOOTPOD), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("SPEED") >= 3)
        nursery.cancel_scope.cancel()
    assert set(recorder.values("SPEED")) == {3.0}
    assert set(recorder.values("STEPS_CADENCE")) == {3.0}
    assert recorder.values("DISTANCE")[0] == pytest.approx(100.3)


async def test_a_drop_is_reported_and_the_flow_resumes(tmp_path, recorder):
    source = fast_source(STRAP.address)
    async with emulated_bluez(tmp_path, STRAP) as bluez, trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 3)
        await bluez.drop(STRAP.address)
        await recorder.until(lambda: len(connections(recorder, False)) == 1)
        before = recorder.count("HEART_RATE")
        await recorder.until(lambda: len(connections(recorder, True)) == 2)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= before + 3)
        nursery.cancel_scope.cancel()
    drop = connections(recorder, False)[0]
    assert (drop.device_id, drop.source, drop.reason) == (STRAP.address, "ble", "device disconnected")
    bpm = recorder.values("HEART_RATE")
    assert bpm == sorted(bpm)  # the strap's values go on where they were, nothing out of order


async def test_a_device_removed_from_bluez_comes_back(tmp_path, recorder):
    source = fast_source(STRAP.address)
    async with emulated_bluez(tmp_path, STRAP) as bluez, trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 2)
        await bluez.remove(STRAP.address, absent_s=0.3)
        await recorder.until(lambda: len(connections(recorder, True)) == 2)
        before = recorder.count("HEART_RATE")
        await recorder.until(lambda: recorder.count("HEART_RATE") >= before + 2)
        nursery.cancel_scope.cancel()
    assert len(connections(recorder, False)) == 1


async def test_bluez_errors_on_connect_do_not_take_the_session_down(tmp_path, recorder):
    source = fast_source(STRAP.address)
    async with emulated_bluez(tmp_path, STRAP) as bluez, trio.open_nursery() as nursery:
        await bluez.fail_connects(STRAP.address, 2)
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 2)
        assert await bluez.connect_calls(STRAP.address) == 3
        nursery.cancel_scope.cancel()
    failure = recorder.statuses[0]
    assert not failure.connected
    assert "org.bluez.Error.Failed" in failure.reason
    # two failures with the same reason are reported once; then the connection
    assert [s.connected for s in recorder.statuses if s.battery is None] == [False, True]


async def test_a_device_not_in_range_is_reported_once_and_scanning_goes_on(tmp_path, recorder):
    source = fast_source(STRAP.address, find_timeout=0.2)
    async with emulated_bluez(tmp_path, STRAP) as bluez, trio.open_nursery() as nursery:
        await bluez.remove(STRAP.address, absent_s=1.0)
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 1)
        nursery.cancel_scope.cancel()
    first = recorder.statuses[0]
    assert not first.connected and "not found" in first.reason and "still scanning" in first.reason
    assert [s.connected for s in recorder.statuses if s.battery is None] == [False, True]


async def test_malformed_notifications_are_skipped_and_the_rest_flows(tmp_path, recorder, caplog):
    def sometimes_truncated(n: int) -> bytes:
        return b"\x01\x48" if n % 3 == 0 else strap_value(n)  # uint16 format, one byte of it

    faulty = PeripheralPlan(
        "C0:FF:EE:00:00:0F", "Faulty HR", {HEART_RATE_SERVICE: [CharacteristicPlan(uuid16(0x2A37), sometimes_truncated)]}
    )
    source = fast_source(faulty.address)
    async with emulated_bluez(tmp_path, faulty), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 4)
        nursery.cancel_scope.cancel()
    assert recorder.values("HEART_RATE")[:4] == [61, 62, 64, 65]
    assert "Heart Rate Measurement (0x2A37): truncated heart rate value" in caplog.text
    assert [s.connected for s in recorder.statuses] == [True]


async def test_without_bluez_a_scan_says_bluetooth_is_unavailable(tmp_path, monkeypatch):
    async with dbus_daemon(tmp_path) as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        with pytest.raises(DeviceUnavailable, match="Bluetooth LE scan failed"):
            await BleTransport().scanner().scan(0.2)


async def test_without_bluez_a_session_reports_and_keeps_trying(tmp_path, monkeypatch, recorder):
    source = BleSource(  # the give-up bound out of the way: tests/ble/test_without_bluez.py has it
        parse_spec("C0:FF:EE:00:00:01"), backoff=Backoff(initial=0.05, maximum=0.2), unreachable_attempts=1000
    )
    async with dbus_daemon(tmp_path) as address, trio.open_nursery() as nursery:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: len(recorder.statuses) >= 1)
        await trio.sleep(0.3)  # several more attempts: still running, nothing raised
        nursery.cancel_scope.cancel()
    assert len(recorder.statuses) == 1  # the same failure is not repeated
    assert not recorder.statuses[0].connected and "org.bluez" in recorder.statuses[0].reason


async def test_two_devices_stream_at_once(tmp_path):
    strap, cadence = EventRecorder(), EventRecorder()
    async with emulated_bluez(tmp_path, STRAP, CADENCE), trio.open_nursery() as nursery:
        nursery.start_soon(fast_source(STRAP.address).run, "u", strap)
        nursery.start_soon(fast_source(CADENCE.address).run, "u", cadence)
        await strap.until(lambda: strap.count("HEART_RATE") >= 3)
        await cadence.until(lambda: cadence.count("BIKE_CADENCE") >= 3)
        nursery.cancel_scope.cancel()
    assert {s.device_id for s in strap.samples} == {STRAP.address}
    assert {s.device_id for s in cadence.samples} == {CADENCE.address}
