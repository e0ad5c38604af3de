"""The nmea session against a pseudo-terminal playing recorded sentences.

``data/walk.nmea`` holds ten seconds of a walk in the sentence mix a u-blox receiver sends at
1 Hz (GGA, GSA, RMC, VTG, GSV), written for these tests, with two damaged lines in it: a
sentence whose digit was flipped after its checksum was computed, and one cut off mid-line.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import pytest
import trio

from wearstream.domain.errors import SpecError
from wearstream.entrypoints.plugins import list_transports, open_device
from wearstream.testing.fake_device import EventRecorder
from wearstream_nmea.sentences import KNOT_M_S

from .pty_gps import play_gps, recorded_lines

WAIT_S = 10.0  # a hang guard
FIXES = 10


async def test_a_recorded_walk_becomes_locations_and_speeds(
    tmp_path: Path, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    begin = trio.Event()
    play = partial(play_gps, begin=begin)
    port = await nursery.start(play, tmp_path / "gps0", recorded_lines())
    source = open_device(f"nmea:{port}?baud=9600")
    events = EventRecorder()
    with caplog.at_level(logging.WARNING, logger="wearstream_nmea"), trio.fail_after(WAIT_S):
        async with trio.open_nursery() as session:
            session.start_soon(source.run, "walker", events)
            await events.wait_for(statuses=1)
            begin.set()
            await events.wait_for(samples=2 * FIXES)
            session.cancel_scope.cancel()
    assert source.device.id == "nmea-gps0"
    assert events.statuses[0].connected and events.statuses[0].source == "nmea"
    locations = [s for s in events.samples if s.t == "LOCATION"]
    speeds = [s for s in events.samples if s.t == "SPEED"]
    assert len(locations) == len(speeds) == FIXES
    assert locations[0].value == pytest.approx((52 + 12.318 / 60, 7.308 / 60))
    assert speeds[0].value == pytest.approx(2.7 * KNOT_M_S)
    assert [s.ts.second for s in locations] == list(range(FIXES))
    assert {(s.user_id, s.device_id) for s in events.samples} == {("walker", "nmea-gps0")}
    assert source.bad_sentences == 2
    warnings = [r.getMessage() for r in caplog.records]
    flipped, cut = [n for n, line in enumerate(recorded_lines(), 1) if b"5213." in line or b"*" not in line]
    assert any(m.startswith(f"{port}: line {flipped} skipped, checksum ") for m in warnings)
    assert any(m.startswith(f"{port}: line {cut} skipped, has no checksum") for m in warnings)


async def test_noise_between_sentences_is_counted_not_fatal(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    noise = [b"\xb5b\x01\x07\x5c\x00garbage\r\n", b"x" * 20_000, b"\r\n"]  # binary, then a flood
    begin = trio.Event()
    port = await nursery.start(partial(play_gps, begin=begin), tmp_path / "gps0", noise + recorded_lines())
    source = open_device(f"nmea:{port}")
    events = EventRecorder()
    with trio.fail_after(WAIT_S):
        async with trio.open_nursery() as session:
            session.start_soon(source.run, "walker", events)
            await events.wait_for(statuses=1)
            begin.set()
            await events.wait_for(samples=2 * FIXES)
            session.cancel_scope.cancel()
    # the binary line, the flood (one bad line per 512 bytes or fewer, however reads cut it),
    # and the recording's two
    assert 1 + 1 + 2 <= source.bad_sentences <= 1 + 20_000 // 512 + 1 + 2


async def test_a_port_that_goes_away_is_a_drop_then_a_reconnect(
    tmp_path: Path, nursery: trio.Nursery, autojump_clock: trio.abc.Clock
) -> None:
    """The pty closes (a receiver unplugged) and comes back under the same name."""
    link = tmp_path / "gps0"
    source = open_device(f"nmea:{link}")
    events = EventRecorder()
    gps = partial(play_gps, repeat=True)
    with trio.fail_after(WAIT_S * 10):
        async with trio.open_nursery() as session:
            async with trio.open_nursery() as first:
                await first.start(gps, link, recorded_lines())
                session.start_soon(source.run, "walker", events)
                await events.wait_for(samples=2)
                first.cancel_scope.cancel()
            await events.wait_for(statuses=2)
            link.unlink()
            await nursery.start(gps, link, recorded_lines())
            await events.wait_for(statuses=3)
            await events.wait_for(samples=len(events.samples) + 2)
            session.cancel_scope.cancel()
    assert [s.connected for s in events.statuses[:3]] == [True, False, True]
    assert events.statuses[1].reason


async def test_a_missing_port_is_retried_and_reported(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    source = open_device(f"nmea:{tmp_path / 'nothing'}")
    events = EventRecorder()
    with trio.move_on_after(60):
        await source.run("walker", events)
    assert len(events.statuses) >= 3 and not any(s.connected for s in events.statuses)
    assert "cannot open" in (events.statuses[0].reason or "")


@pytest.mark.parametrize(
    "spec", ["nmea:", "nmea:/dev/ttyUSB0?baud=1234", "nmea:/dev/ttyUSB0?speed=9600"]
)
def test_bad_specs_say_what_is_wrong(spec: str) -> None:
    with pytest.raises(SpecError, match="nmea"):
        open_device(spec)


def test_installed_as_a_plugin() -> None:
    (info,) = [i for i in list_transports() if i.name == "nmea"]
    assert (info.distribution, info.error) == ("wearstream-nmea", None)
    assert info.data_types == ("LOCATION", "SPEED")
