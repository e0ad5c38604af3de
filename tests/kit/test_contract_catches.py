"""The device-session contract fails sessions that break the port's rules (a suite that
passes everything would prove nothing for a plug-in author)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import trio

from wearstream.domain.devices import Device, DeviceStatus
from wearstream.domain.samples import Sample
from wearstream.ports.devices import DeviceEvents, SampleSource
from wearstream.testing.contracts.devices import DeviceSessionContract


class Careless:
    """A session that can be told to break one rule."""

    def __init__(self, *, silent: bool = False, wrong_id: bool = False, hides_cancel: bool = False):
        self.device = Device("careless-1", "careless", "careless", ("HEART_RATE",))
        self.silent, self.wrong_id, self.hides_cancel = silent, wrong_id, hides_cancel

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        if not self.silent:
            events.status(DeviceStatus(self.device.id, True, "careless"))
        device_id = "someone-else" if self.wrong_id else self.device.id
        while True:
            sample = Sample("HEART_RATE", datetime.now(timezone.utc), 60, user_id, device_id)
            try:
                await events.sample(sample)
            except trio.Cancelled:
                if self.hides_cancel:  # as a library error escaping a session would
                    raise RuntimeError("connection reset while stopping") from None
                raise


def contract(source: Careless) -> DeviceSessionContract:
    class Suite(DeviceSessionContract):
        wait_s = 1.0

        async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
            return source

    return Suite()


async def test_a_sample_before_any_status_fails(tmp_path: Path, nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="a sample came before any status"):
        await contract(Careless(silent=True)).test_connected_status_comes_first(tmp_path, nursery)


async def test_samples_of_another_device_fail(tmp_path: Path, nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="someone-else"):
        await contract(Careless(wrong_id=True)).test_samples_are_valid_and_carry_ids(tmp_path, nursery)


async def test_a_session_that_fails_when_cancelled_fails(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    with pytest.raises(BaseExceptionGroup) as raised:
        await contract(Careless(hides_cancel=True)).test_stops_when_cancelled(tmp_path, nursery)
    assert raised.group_contains(RuntimeError, match="connection reset while stopping", depth=None)
