"""The SampleSink contract: what the consumer relies on, whatever a sink stores payloads in.

A plug-in author subclasses ``SinkContract`` once per sink in a module pytest collects, names the
subclass ``Test…`` and implements ``make_sink`` and ``stored``::

    from wearstream.testing.contracts.sinks import SinkContract

    class TestMySink(SinkContract):
        def make_sink(self, path):
            return MySink(str(path / "out.my"), SinkOptions())

        async def stored(self, path):
            return [(seq, uid, t, d) for ... in read(path / "out.my")]

Optional: ``tear`` (leave the medium as a crash mid-write would) and ``spec`` (the sink's spec
and options, for a test that SIGKILLs a writer process at a random moment; the sink must be
installed as a ``wearstream.sinks`` entry point for the child process to find it).
"""

from __future__ import annotations

import abc
import json
import random
import signal
import sys
from pathlib import Path
from typing import Any, AsyncIterator

import attrs
import pytest
import trio

from ...domain.stream import Payload
from ...ports.sinks import SampleSink, SinkOptions, UnwritablePayload

DEV = "dev_1"
Stored = tuple[int, str, str, dict[str, Any]]
"""What a medium holds for one payload: (seq, uid, t, d)."""


def reading(seq: int, *, uid: str = "user-1", t: str = "HEART_RATE", **fields: Any) -> Payload:
    """A payload as the broker dispatches it; ``fields`` replace the default ``val``."""
    d: dict[str, Any] = {"ts": f"2025-01-01T10:{seq // 60 % 60:02d}:{seq % 60:02d}.250000+00:00"}
    d.update(fields or {"val": 60 + seq % 100})
    return Payload(DEV, seq, uid, t, d)


def readings(seqs: Any) -> list[Payload]:
    return [reading(seq) for seq in seqs]


def as_stored(payloads: list[Payload]) -> list[Stored]:
    return [(p.seq, p.uid, p.t, p.d) for p in payloads]


class SinkContract(abc.ABC):
    """Subclass as ``Test…``; set ``durable = False`` for a sink that forgets its cursor."""

    durable: bool = True
    """True when a sink made again on the same path opens at the cursor committed before."""

    at_least_once: bool = False
    """True when a crash may leave a batch stored twice (receivers dedupe by seq: webhooks)."""

    @abc.abstractmethod
    def make_sink(self, path: Path) -> SampleSink:
        """A new, unopened sink storing under the existing directory ``path``."""

    @abc.abstractmethod
    async def stored(self, path: Path) -> list[Stored]:
        """Everything the sink's medium under ``path`` holds, in the order it was stored."""

    async def tear(self, path: Path) -> bool:
        """Leave the medium as a crash in the middle of a write would; False if not possible."""
        return False

    def spec(self, path: Path) -> tuple[str, SinkOptions] | None:
        """``("kind:target", options)`` for a child process to build the sink; None to skip."""
        return None

    @pytest.fixture
    async def medium(self) -> None:
        """Override to start what the sink stores into (a receiving server, …); every test
        waits for it before making a sink. Keep what ``make_sink`` needs on
        ``request.instance`` (pytest-trio runs async fixtures on another instance than ``self``)."""

    @pytest.fixture
    async def workdir(self, tmp_path: Path, medium: None) -> Path:
        """The directory a test's sinks store under, once the medium is ready."""
        return tmp_path

    @pytest.fixture
    async def sink(
        self, request: pytest.FixtureRequest, workdir: Path
    ) -> AsyncIterator[SampleSink]:
        sink = request.instance.make_sink(workdir)
        assert await sink.open() == 0
        try:
            yield sink
        finally:
            await sink.aclose()

    async def reopen(self, path: Path) -> tuple[SampleSink, int]:
        sink = self.make_sink(path)
        return sink, await sink.open()

    # A new sink ---------------------------------------------------------------------------

    async def test_a_new_sink_opens_at_cursor_0_with_nothing_stored(self, workdir: Path) -> None:
        sink, cursor = await self.reopen(workdir)
        await sink.aclose()
        assert cursor == 0
        assert await self.stored(workdir) == []

    async def test_closing_twice_is_fine(self, workdir: Path) -> None:
        sink, _ = await self.reopen(workdir)
        await sink.aclose()
        await sink.aclose()

    # Writing ------------------------------------------------------------------------------

    async def test_batches_are_stored_in_order(self, sink: SampleSink, workdir: Path) -> None:
        await sink.write(readings([1, 2, 3]), 3)
        await sink.write(readings([4]), 4)
        await sink.write(readings([7, 9]), 9)
        assert await self.stored(workdir) == as_stored(readings([1, 2, 3, 4, 7, 9]))

    async def test_an_empty_batch_stores_nothing(self, sink: SampleSink, workdir: Path) -> None:
        await sink.write([], 0)
        assert await self.stored(workdir) == []

    async def test_arrays_unknown_labels_and_odd_numbers_survive(
        self, sink: SampleSink, workdir: Path
    ) -> None:
        written = [
            reading(1, t="ECG", d=[0.125, -0.5, 1.0, 2, 0.0, 3.5, -7.25, 8.0]),
            reading(2, t="ACCELERATION", uid="user-ü ❤", d=[0.1, 9.81, -0.3]),
            reading(3, t="LOCATION", d=[51.5007, -0.1246]),
            reading(4, t="MY_NEW_SENSOR_2", val=1.5e-7),
            reading(5, t="running_heart_rate", val=2**63),
            reading(6, t="STEPS", val=0),
        ]
        await sink.write(written, 6)
        assert await self.stored(workdir) == as_stored(written)

    # The cursor ---------------------------------------------------------------------------

    async def test_reopening_returns_the_committed_cursor(self, workdir: Path) -> None:
        sink, _ = await self.reopen(workdir)
        try:
            await sink.write(readings([1, 2, 3]), 3)
        finally:
            await sink.aclose()
        sink, cursor = await self.reopen(workdir)
        await sink.aclose()
        assert cursor == (3 if self.durable else 0)

    async def test_payloads_at_or_below_the_cursor_are_stored_once(
        self, sink: SampleSink, workdir: Path
    ) -> None:
        await sink.write(readings([1, 2, 3]), 3)
        await sink.write(readings([2, 3, 4, 5]), 5)
        await sink.write(readings([5]), 5)
        assert await self.stored(workdir) == as_stored(readings([1, 2, 3, 4, 5]))

    @pytest.fixture
    def durable_only(self) -> None:
        """Skip, with a reason ``pytest -rs`` shows, a test this one cannot pass by design
        (a skip raised inside an async test reaches pytest without its reason)."""
        if not self.durable:
            pytest.skip("this sink forgets its cursor when closed (durable = False)")

    @pytest.fixture
    def tearable(self) -> None:
        """Skip, with a reason ``pytest -rs`` shows, a test this one cannot pass by design
        (a skip raised inside an async test reaches pytest without its reason)."""
        if type(self).tear is SinkContract.tear:
            pytest.skip("this sink cannot simulate a torn write (no tear())")

    @pytest.fixture
    def child_spec(self) -> None:
        """Skip, with a reason ``pytest -rs`` shows, a test this one cannot pass by design
        (a skip raised inside an async test reaches pytest without its reason)."""
        if type(self).spec is SinkContract.spec:
            pytest.skip("this sink has no spec for a child process (no spec())")

    async def test_a_restart_resending_from_an_older_seq_stores_each_payload_once(
        self, workdir: Path, durable_only: None
    ) -> None:
        sink, _ = await self.reopen(workdir)
        try:
            await sink.write(readings([1, 2, 3]), 3)
        finally:
            await sink.aclose()
        sink, cursor = await self.reopen(workdir)
        try:
            await sink.write(readings(range(1, 7)), 6)  # the consumer replays more than it must
        finally:
            await sink.aclose()
        assert cursor == 3
        assert await self.stored(workdir) == as_stored(readings(range(1, 7)))

    async def test_the_cursor_advances_past_filtered_out_seqs(self, workdir: Path) -> None:
        sink, _ = await self.reopen(workdir)
        try:
            await sink.write(readings([1, 2]), 2)
            await sink.write([], 10)  # 3…10 did not match the consumer's filter
            await sink.write(readings([9, 10, 11]), 11)
            await sink.write(readings([12]), 20)  # 13…20 filtered out after a stored one
        finally:
            await sink.aclose()
        sink, cursor = await self.reopen(workdir)
        await sink.aclose()
        assert cursor == (20 if self.durable else 0)
        assert await self.stored(workdir) == as_stored(readings([1, 2, 11, 12]))

    async def test_a_lower_cursor_never_moves_it_back(self, workdir: Path) -> None:
        sink, _ = await self.reopen(workdir)
        try:
            await sink.write(readings([1, 2]), 8)
            await sink.write([], 4)
            await sink.write(readings([5, 9]), 9)
        finally:
            await sink.aclose()
        sink, cursor = await self.reopen(workdir)
        await sink.aclose()
        assert cursor == (9 if self.durable else 0)
        assert await self.stored(workdir) == as_stored(readings([1, 2, 9]))

    # Bad batches --------------------------------------------------------------------------

    @pytest.mark.parametrize("seqs, cursor", [((3, 3), 3), ((4, 2), 4), ((1, 2, 5), 4)])
    async def test_a_bad_batch_is_refused_whole(
        self, sink: SampleSink, workdir: Path, seqs: tuple[int, ...], cursor: int
    ) -> None:
        await sink.write(readings([1]), 1)
        with pytest.raises(ValueError, match="seq|cursor"):
            await sink.write(readings(seqs), cursor)
        await sink.write(readings([2]), 2)  # the sink still works, at the old cursor
        assert await self.stored(workdir) == as_stored(readings([1, 2]))

    async def test_a_d_that_is_not_json_is_refused_with_its_seq(
        self, sink: SampleSink, workdir: Path
    ) -> None:
        with pytest.raises(UnwritablePayload, match="seq 2") as refused:
            await sink.write([reading(1), reading(2, val=object())], 2)
        assert refused.value.seq == 2
        await sink.write(readings([1, 2]), 2)
        assert await self.stored(workdir) == as_stored(readings([1, 2]))

    @pytest.mark.parametrize(
        "fields",
        [
            {"ts": "0001-01-01T00:00:00+23:59", "val": 60},  # no UTC form (issue 12.4)
            {"ts": "no time at all", "val": 60},
            {"val": 60, "extra": json.loads("[" * 253 + "]" * 253)},  # too deep for JSON writers
            {"val": 2**64},  # wider than every JSON writer and column
            {"val": 10**400},
        ],
    )
    async def test_a_payload_from_an_older_broker_is_written_or_refused_alone(
        self, sink: SampleSink, workdir: Path, fields: dict[str, Any]
    ) -> None:
        """A log may hold what today's broker refuses. A sink writes such a payload as well as it
        can, or refuses it with UnwritablePayload naming its seq (the consumer then skips it for
        this sink): any other error would stop the sink for good, on every restart."""
        odd = reading(2, **fields)
        try:
            await sink.write([reading(1), odd, reading(3)], 3)
        except UnwritablePayload as refused:
            assert refused.seq == 2
            await sink.write([reading(1), reading(3)], 3)
            assert await self.stored(workdir) == as_stored([reading(1), reading(3)])
        else:
            assert [seq for seq, *_ in await self.stored(workdir)] == [1, 2, 3]

    # Crashes ------------------------------------------------------------------------------

    async def test_a_torn_write_is_recovered_without_loss_or_duplicate(
        self, workdir: Path, tearable: None
    ) -> None:
        sink, _ = await self.reopen(workdir)
        try:
            await sink.write(readings([1, 2, 3]), 3)
        finally:
            await sink.aclose()
        if not await self.tear(workdir):
            pytest.skip("this sink cannot simulate a torn write")
        sink, cursor = await self.reopen(workdir)
        try:
            assert cursor == 3
            await sink.write(readings(range(cursor + 1, 6)), 5)
        finally:
            await sink.aclose()
        assert await self.stored(workdir) == as_stored(readings(range(1, 6)))

    @pytest.mark.e2e
    async def test_a_writer_killed_at_any_moment_loses_and_repeats_nothing(
        self, workdir: Path, child_spec: None
    ) -> None:
        spec = self.spec(workdir)
        if spec is None:
            pytest.skip("this sink has no spec for a child process")
        shown = await _run_and_kill(*spec, random.Random().uniform(0, 0.02))
        sink, cursor = await self.reopen(workdir)
        try:
            assert cursor >= shown  # a write that returned was committed
            await sink.write(readings(range(cursor + 1, cursor + 4)), cursor + 3)
        finally:
            await sink.aclose()
        seqs = [seq for seq, *_ in await self.stored(workdir)]
        top = cursor + 3
        if self.at_least_once:  # a batch delivered just before the kill may come again
            seqs = sorted(set(seqs))
            top = max(top, seqs[-1])
        assert seqs == list(range(1, top + 1)), (seqs, cursor)

    # Any history --------------------------------------------------------------------------

    async def test_any_resends_and_restarts_store_each_payload_once(self, workdir: Path) -> None:
        """Random histories (seeded, so a failure repeats): each step resends up to 4 seqs at
        or below the cursor, adds up to 5 new ones, and maybe restarts the sink; what is stored
        is always 1…N, each once."""
        for seed in range(12):
            rng = random.Random(seed)
            steps = [(rng.randint(0, 4), rng.randint(0, 5), rng.random() < 0.3) for _ in range(8)]
            path = workdir / f"history-{seed}"
            path.mkdir()
            top = await self._play(path, steps)
            assert await self.stored(path) == as_stored(readings(range(1, top + 1))), seed

    async def _play(self, path: Path, steps: list[tuple[int, int, bool]]) -> int:
        sink, cursor = await self.reopen(path)
        top = 0
        try:
            for back, more, restart in steps:
                if restart and self.durable:
                    await sink.aclose()
                    sink, cursor = await self.reopen(path)
                    assert cursor == top
                first = max(1, top - back + 1)
                await sink.write(readings(range(first, top + more + 1)), top + more)
                top += more
        finally:
            await sink.aclose()
        return top


_WRITER = """
import json, sys
from importlib.metadata import entry_points
import trio
from wearstream.domain.stream import Payload
from wearstream.ports.sinks import SinkOptions

def reading(seq):
    ts = f"2025-01-01T10:{seq // 60 % 60:02d}:{seq % 60:02d}.250000+00:00"
    return Payload("dev_1", seq, "user-1", "HEART_RATE", {"ts": ts, "val": 60 + seq % 100})

async def main(spec, options):
    kind, _, target = spec.partition(":")
    factory = entry_points(group="wearstream.sinks")[kind].load()
    sink = factory(target, SinkOptions(**json.loads(options)))
    seq = await sink.open()
    while True:
        batch = [reading(s) for s in range(seq + 1, seq + 8)]
        await sink.write(batch, batch[-1].seq)
        seq = batch[-1].seq
        print(seq, flush=True)

trio.run(main, sys.argv[1], sys.argv[2])
"""


async def _run_and_kill(spec: str, options: SinkOptions, delay: float) -> int:
    """Run a writer process, SIGKILL it ``delay`` s after its third batch; its last shown cursor."""
    argv = [sys.executable, "-c", _WRITER, spec, json.dumps(attrs.asdict(options))]
    with trio.fail_after(30):
        process = await trio.lowlevel.open_process(argv, stdout=-1)
        try:
            assert process.stdout is not None
            buffer = b""
            while buffer.count(b"\n") < 3:
                chunk = await process.stdout.receive_some()
                assert chunk, f"the writer process died (exit {await process.wait()})"
                buffer += chunk
            await trio.sleep(delay)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
            assert process.stdout is not None
            async for chunk in process.stdout:
                buffer += chunk
            await process.stdout.aclose()
    lines = buffer.split(b"\n")[:-1]  # only whole lines: the last may be torn
    return int(lines[-1])
