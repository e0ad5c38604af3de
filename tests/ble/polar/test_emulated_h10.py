"""The whole PMD path through the real bleak and the emulated BlueZ: an emulated Polar H10
(``wearstream.testing.bluez_polar``) streams heart rate, RR, ECG and acceleration at once."""

from __future__ import annotations

import pytest
import trio

from wearstream.adapters.ble.polar.control import OpCode
from wearstream.adapters.ble.polar.service import Measurement
from wearstream.adapters.ble.transport import BleSource, BleTransport
from wearstream.domain.backoff import Backoff
from wearstream.testing.bluez import emulated_bluez
from wearstream.testing.bluez_polar import ECG_FRAME_SAMPLES, PolarPmd, acc_millig, ecg_microvolts, polar_h10

from ..conftest import needs_dbus

pytestmark = [pytest.mark.e2e, needs_dbus]

G = 9.80665


def fast(spec: str) -> BleSource:
    source = BleTransport().open(spec)
    source._backoff = Backoff(initial=0.05, maximum=0.2)
    return source


def increasing(recorder, label: str) -> bool:
    times = [s.ts for s in recorder.samples if s.t == label]
    return all(a < b for a, b in zip(times, times[1:]))


async def test_heart_rate_rr_ecg_and_acceleration_flow_together(tmp_path, recorder):
    pmd = PolarPmd()
    strap = polar_h10(pmd)
    source = fast(f"{strap.address}?ecg=1&acc=50")
    async with emulated_bluez(tmp_path, strap), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("ECG") >= 3 and recorder.count("ACCELERATION") >= 30)
        nursery.cancel_scope.cancel()

    assert recorder.count("HEART_RATE") >= 5 and recorder.count("RR_INTERVAL") >= 5
    ecg = recorder.values("ECG")
    assert all(len(chunk) == ECG_FRAME_SAMPLES for chunk in ecg)
    flat = [v for chunk in ecg for v in chunk]
    assert flat == pytest.approx([ecg_microvolts(i) / 1000 for i in range(len(flat))])
    acc = [c for v in recorder.values("ACCELERATION") for c in v]
    assert acc == pytest.approx([c * G / 1000 for i in range(len(acc) // 3) for c in acc_millig(i)])
    for label in ("ECG", "ACCELERATION", "HEART_RATE", "RR_INTERVAL"):
        assert increasing(recorder, label), label
    # ask the settings, then start with what was asked and the widest range
    ops = [(r[0], r[1]) for r in pmd.requests]
    assert ops == [(OpCode.GET_SETTINGS, Measurement.ECG), (OpCode.START, Measurement.ECG),
                   (OpCode.GET_SETTINGS, Measurement.ACC), (OpCode.START, Measurement.ACC)]
    assert set(source.device.data_types) >= {"HEART_RATE", "ECG", "ACCELERATION"}
    assert "Polar Measurement Data" in source.device.services


def connections(recorder, connected: bool) -> list:
    return [s for s in recorder.statuses if s.connected is connected and s.battery is None]


async def test_a_drop_and_reconnect_restarts_the_streams(tmp_path, recorder):
    pmd = PolarPmd(drift_ppm=40)
    strap = polar_h10(pmd)
    source = fast(f"{strap.address}?ecg=1&acc=100")
    async with emulated_bluez(tmp_path, strap) as bluez, trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("ECG") >= 2)
        await bluez.drop(strap.address)
        await recorder.until(lambda: len(connections(recorder, True)) == 2)
        before = recorder.count("ECG"), recorder.count("ACCELERATION")
        await recorder.until(
            lambda: recorder.count("ECG") >= before[0] + 2 and recorder.count("ACCELERATION") >= before[1] + 20
        )
        nursery.cancel_scope.cancel()

    assert pmd.starts == {Measurement.ECG: 2, Measurement.ACC: 2}
    assert len(connections(recorder, False)) == 1
    for label in ("ECG", "ACCELERATION", "HEART_RATE"):
        assert increasing(recorder, label), label
    # the strap's signal goes on where it was: no chunk lost or repeated around the drop
    flat = [v for chunk in recorder.values("ECG") for v in chunk]
    assert flat == pytest.approx([ecg_microvolts(i) / 1000 for i in range(len(flat))])


async def test_compressed_acceleration_frames_end_to_end(tmp_path, recorder):
    pmd = PolarPmd(compressed_acc=True)
    strap = polar_h10(pmd)
    source = fast(f"{strap.address}?acc=200")
    async with emulated_bluez(tmp_path, strap), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("ACCELERATION") >= 120)
        nursery.cancel_scope.cancel()
    acc = [c for v in recorder.values("ACCELERATION") for c in v]
    assert acc == pytest.approx([c * G / 1000 for i in range(len(acc) // 3) for c in acc_millig(i)])
    assert increasing(recorder, "ACCELERATION")
    assert recorder.count("ECG") == 0
    assert [(r[0], r[1]) for r in pmd.requests] == [(OpCode.GET_SETTINGS, Measurement.ACC), (OpCode.START, Measurement.ACC)]


async def test_a_rate_the_strap_does_not_offer_leaves_the_rest_streaming(tmp_path, recorder, caplog):
    pmd = PolarPmd()
    strap = polar_h10(pmd)
    source = fast(f"{strap.address}?ecg=1&acc=60")
    async with emulated_bluez(tmp_path, strap), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("ECG") >= 2 and recorder.count("HEART_RATE") >= 5)
        nursery.cancel_scope.cancel()
    assert "ACC not started: ACC sample_rate 60 is not offered (offers 25, 50, 100, 200)" in caplog.text
    assert recorder.count("ACCELERATION") == 0
    assert pmd.starts == {Measurement.ECG: 1, Measurement.ACC: 0}
    statuses = [(s.connected, s.reason) for s in recorder.statuses if s.battery is None]
    assert statuses == [(True, None), (True, "ACC not started: ACC sample_rate 60 is not offered (offers 25, 50, 100, 200)")]


async def test_ecg_asked_of_a_strap_without_pmd_streams_heart_rate(tmp_path, recorder, caplog):
    from wearstream.testing.bluez import heart_rate_strap

    strap = heart_rate_strap()
    source = fast(f"{strap.address}?ecg=1")
    async with emulated_bluez(tmp_path, strap), trio.open_nursery() as nursery:
        nursery.start_soon(source.run, "u", recorder)
        await recorder.until(lambda: recorder.count("HEART_RATE") >= 3)
        nursery.cancel_scope.cancel()
    assert "no Polar Measurement Data service" in caplog.text
    assert "ECG/ACC not started: the device has no Polar Measurement Data service" in [s.reason for s in recorder.statuses]
    assert recorder.count("ECG") == 0
