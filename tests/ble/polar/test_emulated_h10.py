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
        await recorder.wait_for(lambda: recorder.count("ECG") >= 3 and recorder.count("ACCELERATION") >= 30)
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
