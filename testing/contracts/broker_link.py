"""The broker-link contract: what the producer core relies on from every ``BrokerLink``
(``wearstream.ports.producer``): the WebSocket ``ProducerLink`` and the kit's
``FakeBrokerLink`` both pass it.

Subclass ``BrokerLinkContract`` as ``Test…`` and implement ``make_harness(nursery)``: a
``LinkHarness`` that makes links over an outbox and says what reached the other side.
"""

from __future__ import annotations

import abc
from datetime import datetime, timezone
from typing import Any, Protocol

import trio

from ...adapters.storage.outbox import MemoryOutbox
from ...domain.producer import LinkStopped
from ...domain.samples import Sample
from ...ports.producer import BrokerLink, Outbox

USER = "contract-user"


class LinkHarness(Protocol):
    def link(self, outbox: Outbox) -> BrokerLink:
        """A link draining ``outbox`` as ``USER``, not yet running."""
        ...

    def refused_link(self, outbox: Outbox) -> BrokerLink:
        """A link the other side refuses for good (its credentials are wrong)."""
        ...

    async def values(self) -> list[Any]:
        """The ``val`` of every reading stored on the other side, in order."""
        ...


def reading(n: int) -> Sample:
    return Sample("HEART_RATE", datetime.now(timezone.utc), 60 + n, USER, "contract-device")


class BrokerLinkContract(abc.ABC):
    wait_s: float = 10.0

    @abc.abstractmethod
    async def make_harness(self, nursery: trio.Nursery) -> LinkHarness: ...

    async def _delivered(self, harness: LinkHarness, link: BrokerLink, outbox: Outbox, n: int) -> None:
        ids = await outbox.add([reading(i) for i in range(n)])
        link.notify()
        with trio.fail_after(self.wait_s):
            await link.wait_acked(ids[-1])

    async def test_delivers_the_outbox_in_order_and_empties_it(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        outbox = MemoryOutbox()
        await outbox.add([reading(i) for i in range(3)])  # waiting before the link runs
        link = harness.link(outbox)
        nursery.start_soon(link.run)
        await self._delivered(harness, link, outbox, 4)  # and added while it runs
        assert await outbox.depth() == 0, "acknowledged entries must leave the outbox"
        values = await harness.values()
        assert values == [60, 61, 62, 60, 61, 62, 63], f"delivered out of order or twice: {values}"

    async def test_wait_acked_returns_at_once_for_what_is_acknowledged(
        self, nursery: trio.Nursery
    ) -> None:
        harness = await self.make_harness(nursery)
        outbox = MemoryOutbox()
        link = harness.link(outbox)
        nursery.start_soon(link.run)
        await self._delivered(harness, link, outbox, 2)
        with trio.fail_after(0.5):
            await link.wait_acked(1)

    async def test_refused_credentials_stop_the_link(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        outbox = MemoryOutbox()
        await outbox.add([reading(0)])
        try:
            with trio.fail_after(self.wait_s):
                await harness.refused_link(outbox).run()
        except LinkStopped as stopped:
            assert str(stopped).strip(), "LinkStopped needs a message for the user"
        else:
            raise AssertionError("run() returned: it must raise LinkStopped or run on")
        assert await outbox.depth() == 1, "a refused link must leave the outbox as it was"
