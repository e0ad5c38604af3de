"""The ``lsl:`` sink with real LSL inlets: it passes the SampleSink contract (read back from its
``records`` marker stream, as an XDF file would hold it), and its value streams carry the values,
channel metadata and the readings' times on the LSL clock."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import trio

from wearstream.adapters.lsl.sink import LslSink
from wearstream.domain.errors import SpecError
from wearstream.domain.stream import Payload
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import SinkContract, Stored

from .recorder import Recorder

pylsl = pytest.importorskip("pylsl", reason="the LSL tests need pylsl (the test extra has it)")


def prefix_of(path: Path) -> str:
    return "ws" + hashlib.sha256(str(path).encode()).hexdigest()[:12]


async def settled(recorder: Recorder) -> list[tuple[list[object], float]]:
    seen = -1
    while len(recorder.received()) != seen:
        seen = len(recorder.received())
        await trio.sleep(0.3)
    return recorder.received()


class TestLslSink(SinkContract):
    """Without a cursor dir, as the contract's view of the medium is one recorder's inlet: a
    restarted sink makes new outlets, and readings pushed before the recorder's inlet has found
    them again are not received (LSL is a live medium; see docs/integrations.md). The cursor file
    the sink keeps with a cursor dir is the one every such sink shares (``sinks.cursor``)."""

    durable = False
    recorders: dict[Path, Recorder]

    @pytest.fixture
    async def medium(self, request: pytest.FixtureRequest) -> Iterator[None]:
        request.instance.recorders = {}
        yield
        for recorder in request.instance.recorders.values():
            recorder.stop()

    def make_sink(self, path: Path) -> LslSink:
        if path not in self.recorders:
            self.recorders[path] = Recorder(f"{prefix_of(path)} records")
        return LslSink(f"?name={prefix_of(path)}&wait=10", SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        recorder = self.recorders.get(path)
        if recorder is None:
            return []
        records = [json.loads(sample[0]) for sample, _ in await settled(recorder)]  # type: ignore[arg-type]
        return [(r["seq"], r["uid"], r["t"], r["d"]) for r in records]


def reading(seq: int, t: str, ts: datetime, **fields: object) -> Payload:
    return Payload("dev_1", seq, "alice", t, {"ts": ts.isoformat().replace("+00:00", "Z"), **fields})


async def test_values_metadata_and_times_on_the_lsl_clock(tmp_path: Path) -> None:
    sink = LslSink("?name=labA", SinkOptions(cursor_dir=str(tmp_path)))
    await sink.open()
    now = datetime.now(timezone.utc) - timedelta(seconds=2)
    types = ("HEART_RATE", "ECG", "ACCELERATION")
    recorders = [Recorder(f"labA alice {t}") for t in types]
    heart, ecg, acc = recorders
    try:
        # The first reading of each type makes its outlet; the recorders then connect to them.
        await sink.write([reading(1, "HEART_RATE", now, val=1), reading(2, "ECG", now, d=[0.0])], 2)
        await sink.write([reading(3, "ACCELERATION", now, d=[0.0, 0.0, 0.0])], 3)
        with trio.fail_after(20):
            while not all(r.connected for r in recorders):
                await trio.sleep(0.05)
        await sink.write(
            [
                reading(4, "HEART_RATE", now, val=71),
                reading(5, "ECG", now, d=[0.1, 0.2, -0.3]),
                reading(6, "ACCELERATION", now, d=[0.0, 9.81, 0.5]),
                reading(7, "HEART_RATE", now + timedelta(seconds=1), val=72.5),
            ],
            7,
        )
        expected_lsl = now.timestamp() + pylsl.local_clock() - time.time()
        beats, waveform, motion = [(await settled(r))[-n:] for r, n in ((heart, 2), (ecg, 3), (acc, 1))]
    finally:
        await sink.aclose()
        for recorder in recorders:
            recorder.stop()
    assert [sample for sample, _ in beats] == [[71.0], [72.5]]
    assert abs(beats[0][1] - expected_lsl) < 0.001 and abs(beats[1][1] - expected_lsl - 1) < 0.001
    assert [sample for sample, _ in waveform] == [[0.1], [0.2], [-0.3]]
    assert [round(stamp - waveform[0][1], 6) for _, stamp in waveform] == [0.0, round(1 / 130, 6), round(2 / 130, 6)]
    assert motion[0][0] == [0.0, 9.81, 0.5]
    info = heart.info
    assert (info.type(), info.channel_count(), info.nominal_srate(), info.channel_format()) == (
        "HEART_RATE", 1, 0.0, pylsl.cf_double64,
    )
    channel = info.desc().child("channels").child("channel")
    assert (channel.child_value("label"), channel.child_value("unit")) == ("HEART_RATE", "bpm")
    assert info.desc().child("wearstream").child_value("user") == "alice"
    assert ecg.info.nominal_srate() == 130.0
    labels = acc.info.desc().child("channels").child("channel")
    assert [labels.child_value("label"), labels.next_sibling().child_value("label")] == ["x", "y"]


async def test_outlets_are_bounded(tmp_path: Path) -> None:
    sink = LslSink("?name=labB&max_outlets=1", SinkOptions())
    await sink.open()
    now = datetime.now(timezone.utc)
    try:
        await sink.write([reading(1, "HEART_RATE", now, val=70), reading(2, "POWER", now, val=200)], 2)
        assert list(sink.outlets) == [("alice", "HEART_RATE")]
    finally:
        await sink.aclose()


@pytest.mark.parametrize("target", ["?max_outlets=0", "?wait=-1", "?name=a'b", "?colour=red"])
def test_a_bad_target_is_one_clear_error(target: str) -> None:
    with pytest.raises(SpecError, match="lsl sink"):
        LslSink(target, SinkOptions())
