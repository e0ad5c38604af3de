"""The shared hostile checks themselves work on a healthy broker (so a failing check in an attack
test means the attack broke something, not the check)."""

from __future__ import annotations

import os

import pytest
import trio

from wearstream.testing.broker_process import BrokerProcess

from .conftest import Tenant, assert_alive, broker_pid, open_fds, reset, rss_bytes


async def test_checks_pass_on_a_healthy_broker(broker: BrokerProcess, witness: Tenant) -> None:
    assert await assert_alive(broker) == 200
    assert await witness.round_trip() < 5
    assert await witness.round_trip() < 5  # again at once: the first consumer's slot is free again
    assert 10 * 2**20 < rss_bytes(broker_pid(broker)) < 2**31
    assert open_fds(broker_pid(broker)) > 3
    assert rss_bytes(os.getpid()) > 0


async def test_tenants_are_separate(attacker: Tenant, witness: Tenant) -> None:
    assert attacker.dev_id != witness.dev_id
    async with attacker.producer("someone") as ws:
        await ws.send_message('{"op": 0}')


async def test_reset_sends_rst() -> None:
    """The peer of a reset() connection reads ECONNRESET, not an orderly EOF."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    reset(client)
    with pytest.raises(trio.BrokenResourceError):
        await server.receive_some(10)
    await server.aclose()
    await listeners[0].aclose()


async def test_start_broker_passes_flags(start_broker) -> None:  # type: ignore[no-untyped-def]
    broker, attacker, witness = start_broker("--max-consumers", "2")
    async with attacker.consumer(), attacker.consumer():
        pass  # two consumers of one developer: the flag reached the process
    await witness.round_trip()
