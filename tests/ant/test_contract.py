"""The ANT+ session passes the device-session contract every transport passes, through openant
against an emulated stick (one per session, on its own pseudo-terminal, in the test's nursery)."""

from __future__ import annotations

from pathlib import Path

import trio

from wearstream.adapters.ant.transport import AntTransport
from wearstream.ports.devices import SampleSource
from wearstream.testing.ant_stick import EmulatedStick, HeartRateStrap
from wearstream.testing.contracts.devices import DeviceSessionContract


async def _serve(stick: EmulatedStick, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async with stick.running():
        task_status.started()
        await trio.sleep_forever()


class TestAntSession(DeviceSessionContract):
    wait_s = 20.0

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        stick = EmulatedStick([HeartRateStrap(number=4242)])
        await nursery.start(_serve, stick)
        return AntTransport().open(f"hr:4242?device={stick.path}")
