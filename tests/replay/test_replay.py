"""The replay transport on trio's virtual clock: spacing, speed, timestamps, loops, bad lines.

Recordings are written by the real jsonl sink (see conftest). With ``autojump_clock`` the
spacing is exact and the tests take no real time.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from wearstream.adapters.replay.spec import parse_spec
from wearstream.adapters.replay.transport import ReplaySource
from wearstream.domain.errors import DeviceUnavailable, SpecError
from wearstream.entrypoints.plugins import open_device
from wearstream.testing.fake_device import EventRecorder

from .conftest import EPOCH, READINGS, T0, TrioClock, record


class Timed(EventRecorder):
    """Also notes the trio time at which each sample arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def sample(self, sample) -> None:  # type: ignore[no-untyped-def]
        self.times.append(trio.current_time())
        await super().sample(sample)


class StopsAfter(Timed):
    """Cancels ``scope`` once ``count`` samples have arrived, to end a looping session."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.scope = trio.CancelScope()

    async def sample(self, sample) -> None:  # type: ignore[no-untyped-def]
        await super().sample(sample)
        if len(self.samples) >= self.count:
            self.scope.cancel()


async def play(spec: str, events: EventRecorder | None = None) -> EventRecorder:
    events = events or Timed()
    await ReplaySource(parse_spec(spec), TrioClock()).run("player", events)
    return events


def offsets(events: Timed) -> list[float]:
    return [t - events.times[0] for t in events.times]


async def test_plays_every_reading_with_its_recorded_timestamp(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = await record(tmp_path / "run.jsonl")
    events = await play(str(path))
    assert [(s.t, s.value) for s in events.samples] == [
        (t, tuple(v) if isinstance(v, list) else v) for _, _, t, v in READINGS
    ]
    assert [(s.ts - T0).total_seconds() for s in events.samples] == [r[0] for r in READINGS]
    assert {(s.user_id, s.device_id) for s in events.samples} == {("player", "replay-run.jsonl")}
    assert [(s.device_id, s.connected, s.source) for s in events.statuses] == [
        ("replay-run.jsonl", True, "replay")
    ]


@pytest.mark.parametrize("speed", [1.0, 4.0, 0.5])
async def test_keeps_the_recorded_spacing_scaled_by_speed(
    tmp_path: Path, autojump_clock: trio.abc.Clock, speed: float
) -> None:
    path = await record(tmp_path / "run.jsonl")
    events = await play(f"{path}?speed={speed:g}")
    assert offsets(events) == pytest.approx([r[0] / speed for r in READINGS])


async def test_retime_stamps_samples_when_they_are_played(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = await record(tmp_path / "run.jsonl")
    events = await play(f"{path}?retime=1&speed=2")
    played = [(s.ts - EPOCH).total_seconds() for s in events.samples]
    assert played == pytest.approx(events.times)  # type: ignore[attr-defined]


async def test_loop_starts_over_retimed_until_cancelled(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    # Stopped after a count of samples, not at a virtual deadline: each pass opens and reads the
    # file in a worker thread, and while trio waits for that thread the autojump clock leaps to
    # the next pending deadline, which would cancel the loop at a random point of its passes.
    path = await record(tmp_path / "run.jsonl")
    one_pass = [tuple(v) if isinstance(v, list) else v for _, _, _, v in READINGS]
    events = StopsAfter(2 * len(one_pass) + 1)  # two whole passes and the start of a third
    source = ReplaySource(parse_spec(f"{path}?loop=1"), TrioClock())
    with events.scope:
        await source.run("player", events)
    values = [s.value for s in events.samples]
    assert values == one_pass * 2 + one_pass[:1]
    assert all(s.ts.year == EPOCH.year for s in events.samples), "a looped replay is retimed"
    assert source.played == len(values)


async def test_user_plays_only_that_users_lines(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = await record(tmp_path / "run.jsonl")
    events = await play(f"{path}?user=ben")
    assert [s.value for s in events.samples] == [90]
    assert events.samples[0].user_id == "player"


BAD_LINES = [
    b'{"seq": 90, "uid": "ann", "t": "HEART_RATE", "d": {"ts": "2024-03-09T07:30:05+00:00"',
    b"[1, 2, 3]",
    b'{"seq": 91, "uid": "ann", "t": "HEART_RATE", "d": {"val": 70}}',
    b'{"seq": 92, "uid": "ann", "t": "HEART_RATE", "d": {"ts": "yesterday", "val": 70}}',
    b'{"seq": 93, "uid": "ann", "t": "ACCELERATION", "d": {"ts": "2024-03-09T07:30:05+00:00", "val": 1}}',
    b'{"seq": 94, "uid": "ann", "t": "HEART RATE", "d": {"ts": "2024-03-09T07:30:05+00:00", "val": 1}}',
    b'{"seq": 95, "t": "HEART_RATE", "d": {"ts": "2024-03-09T07:30:05+00:00", "val": 1}}',
]


async def test_a_bad_line_is_reported_with_file_and_line_skipped_and_counted(
    tmp_path: Path, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    path = await record(tmp_path / "run.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = lines[:2] + [line + b"\n" for line in BAD_LINES] + [b"\n"] + lines[2:]
    path.write_bytes(b"".join(damaged) + b'{"seq": 99, "uid": "ann", "t": "HEART_RATE", "d": {"ts')
    source = ReplaySource(parse_spec(str(path)), TrioClock())
    events = EventRecorder()
    with caplog.at_level(logging.WARNING, logger="wearstream.replay"):
        await source.run("player", events)
    assert len(events.samples) == len(READINGS), "every good line is played"
    assert source.skipped == len(BAD_LINES) + 1  # and the torn last line; the blank one is no error
    messages = [r.getMessage() for r in caplog.records]
    last_line = len(damaged) + 1
    for number in [*range(3, 3 + len(BAD_LINES)), last_line]:
        assert any(m.startswith(f"{path}:{number}: skipped, ") for m in messages), number
    assert any("not JSON" in m for m in messages)
    assert any('"d" has no "ts"' in m for m in messages)
    assert any(m == f"{path}: 8 bad line(s) skipped in this pass" for m in messages)


async def test_looping_over_nothing_playable_stops_the_device(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"not a recording\n")
    source = ReplaySource(parse_spec(f"{path}?loop=1"))
    with pytest.raises(DeviceUnavailable, match="holds no reading to play"):
        await source.run("player", EventRecorder())
    assert source.skipped == 1


async def test_a_recording_with_nothing_playable_is_an_error_without_loop_too(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(DeviceUnavailable, match=f"{path} holds no reading to play"):
        await ReplaySource(parse_spec(str(path))).run("player", EventRecorder())


async def test_a_recording_gone_before_it_plays_stops_the_device(tmp_path: Path) -> None:
    path = await record(tmp_path / "run.jsonl")
    source = open_device(f"replay:{path}")
    path.unlink()
    with pytest.raises(DeviceUnavailable, match=f"cannot read the recording {path}"):
        await source.run("player", EventRecorder())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("replay:", "needs the path of a recording"),
        ("replay:{path}?speed=0", "replay speed '0' is not a number"),
        ("replay:{path}?speed=fast", "replay speed 'fast'"),
        ("replay:{path}?loop=yes", "loop must be 0 or 1"),
        ("replay:{path}?loop=1&retime=0", "loop=1 needs retime"),
        ("replay:{path}?speed=2&speed=3", "given twice"),
        ("replay:{path}?rate=2", "bad replay parameter 'rate=2'"),
        ("replay:{path}?user=", "user must not be empty"),
        ("replay:{missing}", "no recording at"),
    ],
)
async def test_bad_specs_say_what_is_wrong(tmp_path: Path, spec: str, message: str) -> None:
    path = await record(tmp_path / "run.jsonl")
    with pytest.raises(SpecError, match=message):
        open_device(spec.format(path=path, missing=tmp_path / "nope.jsonl"))


def test_spec_defaults_and_loop_implies_retime(tmp_path: Path) -> None:
    plain = parse_spec("~/r.jsonl")
    assert (plain.speed, plain.loop, plain.retime, plain.user) == (1.0, False, False, None)
    assert plain.path == Path.home() / "r.jsonl"
    assert parse_spec("r.jsonl?loop=1").retime
