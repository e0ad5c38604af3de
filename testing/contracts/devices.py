"""The device-session contract: what the producer relies on from every SampleSource.

A transport author subclasses ``DeviceSessionContract`` once per kind of session in a module
pytest collects, names the subclass ``Test…`` and implements ``make_source``::

    from wearstream.testing.contracts.devices import DeviceSessionContract

    class TestMyGps(DeviceSessionContract):
        async def make_source(self, path, nursery):
            port = await nursery.start(play_recorded_sentences, path)  # a feeder, if it needs one
            return MyTransport().open(port)

``make_source`` may start helpers (a pseudo-terminal that plays a recording, an emulated
peripheral) in ``nursery``; they are cancelled after the test. A session must deliver at least
``min_samples`` samples soon after it starts (set ``ends = True`` when it then may end by
itself, as a replay of a short recording does). The suites need pytest and pytest-trio
(``trio_mode = true``). ``wait_s`` bounds how long a test waits for the session, so that a
session that never says anything fails the test instead of hanging it; it measures nothing.
"""

from __future__ import annotations

import abc
from datetime import timezone
from pathlib import Path

import trio

from ...domain.datatypes import is_label
from ...domain.samples import Sample
from ...ports.devices import SampleSource
from ..fake_device import EventRecorder

USER = "contract-user"


class DeviceSessionContract(abc.ABC):
    """Subclass as ``Test…`` and implement ``make_source``."""

    min_samples: int = 3
    """Samples the session delivers soon after it starts, without help from the test."""

    ends: bool = False
    """True when the session may return by itself after its ``min_samples`` (a finite source)."""

    wait_s: float = 10.0
    """How long to wait for the session before failing (a hang guard, not a speed check)."""

    @abc.abstractmethod
    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        """A new session, not yet running; ``path`` is an empty directory for its files."""

    async def _collect(self, source: SampleSource, events: EventRecorder) -> None:
        """Run the session until it delivered ``min_samples`` (or ended by itself), then stop
        it; what the session raised is raised here as it was, not inside an exception group."""
        failure: BaseException | None = None
        with trio.fail_after(self.wait_s):
            async with trio.open_nursery() as nursery:

                async def run() -> None:
                    nonlocal failure
                    try:
                        await source.run(USER, events)
                        if not self.ends:
                            failure = AssertionError("the session ended by itself, but ends = False")
                    except Exception as error:
                        failure = error
                    nursery.cancel_scope.cancel()

                nursery.start_soon(run)
                await events.wait_for(samples=self.min_samples)
                nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def test_device_is_described(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        device = (await self.make_source(tmp_path, nursery)).device
        assert isinstance(device.id, str) and device.id, "a device needs a non-empty id"
        assert isinstance(device.transport, str) and device.transport
        assert all(is_label(t) for t in device.data_types), device.data_types

    async def test_device_id_is_stable(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        """Two sessions of one spec are one device, so that its samples keep one device_id."""
        first = await self.make_source(tmp_path, nursery)
        again = await self.make_source(tmp_path, nursery)
        assert first.device.id == again.device.id

    async def test_connected_status_comes_first(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        source = await self.make_source(tmp_path, nursery)
        events = _FirstStatusCheck(source)
        await self._collect(source, events)
        first = events.statuses[0]
        assert first.device_id == source.device.id
        assert first.connected and first.source == source.device.transport

    async def test_samples_are_valid_and_carry_ids(
        self, tmp_path: Path, nursery: trio.Nursery
    ) -> None:
        source = await self.make_source(tmp_path, nursery)
        events = EventRecorder()
        await self._collect(source, events)
        assert len(events.samples) >= self.min_samples
        declared = source.device.data_types
        for sample in events.samples:
            assert isinstance(sample, Sample)
            assert sample.user_id == USER and sample.device_id == source.device.id, sample
            assert sample.ts.tzinfo == timezone.utc
            assert not declared or sample.t in declared, f"{sample.t} is not in {declared}"

    async def test_stops_when_cancelled(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        """Cancelled while the producer is not taking samples (held backpressure), ``run``
        returns to its caller instead of hanging or raising something else."""
        source = await self.make_source(tmp_path, nursery)
        events = EventRecorder(hold=True)
        with trio.fail_after(self.wait_s):
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as inner:
                    inner.start_soon(source.run, USER, events)
                    while events.in_sample == 0:
                        await trio.sleep(0.01)
                    scope.cancel()
        assert scope.cancelled_caught
        assert events.samples == []

    async def test_waits_for_each_sample_to_be_taken(
        self, tmp_path: Path, nursery: trio.Nursery
    ) -> None:
        """Awaiting ``events.sample`` is the backpressure: a session never delivers two at once."""
        source = await self.make_source(tmp_path, nursery)
        events = EventRecorder()
        await self._collect(source, events)
        assert events.most_in_sample == 1


class _FirstStatusCheck(EventRecorder):
    """Fails at once if a sample comes before the session said it is connected."""

    def __init__(self, source: SampleSource) -> None:
        super().__init__()
        self._source = source

    async def sample(self, sample: Sample) -> None:
        assert self.statuses, f"{self._source.device.id}: a sample came before any status"
        await super().sample(sample)
