"""End to end through openant's real node, channel and message code, with an emulated ANT USB
stick on a pseudo-terminal at the other end (wearstream.testing.ant_stick)."""

from __future__ import annotations

import threading

import pytest
import trio

from wearstream.adapters.ant.transport import AntTransport
from wearstream.domain.errors import DeviceUnavailable
from wearstream.testing.ant_stick import EmulatedStick


def _openant_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("openant")]


def count(events, label: str, at_least: int):
    return lambda: len(events.values(label)) >= at_least


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("hr", {"HEART_RATE": 150, "RR_INTERVAL": 400, "BATTERY": 87}),
        ("sdm:77", {"SPEED": 3.25, "STEPS_CADENCE": 2.8}),
        ("bike-sc:5?wheel=2.105", {"SPEED": 8.0, "BIKE_CADENCE": 90}),
        ("power:9", {"POWER": 240, "BIKE_CADENCE": 88}),
    ],
)
async def test_each_profile_streams_samples(stick, settings, events, spec, expected):
    session = AntTransport(settings).open(f"{spec}{'&' if '?' in spec else '?'}device={stick.path}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run, "user-1", events)
        for label in expected:
            await events.until(count(events, label, 2 if label == "BATTERY" else 12))
        nursery.cancel_scope.cancel()
    for label, value in expected.items():
        assert events.values(label)[-1] == pytest.approx(value, rel=0.03), label
    assert not _openant_threads(), "openant's threads end with the session"
    assert {s.device_id for s in events.samples} == {session.device.id}
    assert {s.user_id for s in events.samples} == {"user-1"}
    first = events.statuses[0]
    assert (first.device_id, first.connected, first.source) == (session.device.id, True, "ant")
    if "BATTERY" in expected:  # the strap's page 7 also reaches the STATUS frames
        assert any(s.battery == 87 and s.connected for s in events.statuses)


async def test_totals_grow_from_zero(stick, settings, events):
    session = AntTransport(settings).open(f"sdm:77?device={stick.path}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run, "u", events)
        await events.until(count(events, "STEPS", 40))
        nursery.cancel_scope.cancel()
    distance, steps = events.values("DISTANCE"), events.values("STEPS")
    assert distance[0] == 0 and steps[0] == 0
    assert distance == sorted(distance) and steps == sorted(steps)
    # the emulated runner crossed the SDM's 256 m and 256 stride rollovers on the way
    assert distance[-1] > 10 and steps[-1] > 10


async def test_silent_sensor_is_reported_and_comes_back(stick, sensors, settings, events):
    strap = sensors[0]
    session = AntTransport(settings).open(f"hr:4242?device={stick.path}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run, "u", events)
        await events.until(count(events, "HEART_RATE", 5))
        strap.silent = True
        await events.until(lambda: not events.statuses[-1].connected)
        dropped = events.statuses[-1]
        before = len(events.values("HEART_RATE"))
        strap.silent = False
        await events.until(count(events, "HEART_RATE", before + 5))
        nursery.cancel_scope.cancel()
    assert dropped.reason == "no ANT+ pages for 0.3 s"
    assert [s.connected for s in events.statuses][-2:] == [False, True]


async def test_corrupt_messages_are_skipped(stick, settings, events):
    session = AntTransport(settings).open(f"power:9?device={stick.path}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.run, "u", events)
        await events.until(count(events, "POWER", 5))
        for _ in range(5):
            stick.corrupt_next()
        await events.until(count(events, "POWER", 40))
        nursery.cancel_scope.cancel()
    assert stick.corrupted == 5
    assert all(s.connected for s in events.statuses)
    assert set(events.values("POWER")) == {240}


async def test_no_stick_gives_up_after_the_configured_attempts(settings, events, tmp_path):
    session = AntTransport(settings).open(f"hr?device={tmp_path}/no-such-tty")
    with pytest.raises(DeviceUnavailable, match="no-such-tty"):
        await session.run("u", events)
    assert events.statuses[0].connected is False
    assert "cannot open the ANT stick" in events.statuses[0].reason


async def test_a_path_that_is_no_serial_port_is_no_stick(settings, events, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    session = AntTransport(settings).open(f"hr?device={tmp_path}/file")
    with pytest.raises(DeviceUnavailable, match="not a serial port"):
        await session.run("u", events)


async def test_stick_that_vanishes_is_reported(sensors, settings, events):
    stick = EmulatedStick(sensors)
    session = AntTransport(settings).open(f"power?device={stick.path}")
    gave_up = []

    async def run() -> None:
        try:
            await session.run("u", events)
        except DeviceUnavailable as exc:
            gave_up.append(exc)

    async with trio.open_nursery() as nursery:
        async with stick.running():
            nursery.start_soon(run)
            await events.until(count(events, "POWER", 5))
        # the stick is gone (its pty closed): reported, retried, given up for good
    assert events.statuses[-1].connected is False
    assert "hung up" in events.statuses[-1].reason
    assert gave_up and "cannot open the ANT stick" in str(gave_up[0])


async def test_scanner_finds_every_sensor(stick):
    # openant spends 1 s on the stick's reset before the channels open: leave room for a busy box
    devices = await AntTransport().scanner(stick.path).scan(5.0)
    assert [(d.id, d.transport) for d in devices] == [
        ("bike-sc:5", "ant"), ("hr:4242", "ant"), ("power:9", "ant"), ("sdm:77", "ant")
    ]
    assert "HEART_RATE" in devices[1].data_types
