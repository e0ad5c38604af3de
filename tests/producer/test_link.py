"""The producer link against a real broker in this process, and against scripted brokers (real
WebSocket servers on 127.0.0.1 that play one situation: no heartbeat ack, a fatal close, no acks).
"""

from __future__ import annotations

import random
from typing import Any, Awaitable, Callable

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

from wearstream.adapters.http.token_providers import FixedTokenProvider
from wearstream.adapters.storage.outbox import MemoryOutbox
from wearstream.adapters.websocket.producer_link import LinkConfig, ProducerLink
from wearstream.domain.closecodes import CloseCode
from wearstream.domain.devices import DeviceStatus
from wearstream.domain.errors import CredentialsError, TokenUnavailable
from wearstream.domain.producer import LinkStopped
from wearstream.testing.fixtures import LiveBroker

from .conftest import USER, Consumer, hr, producer_connections

FAST = LinkConfig(backoff_initial=0.01, backoff_max=0.05, hello_timeout=5, ready_timeout=5)


def values(payloads: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(p["d"]["ts"], p["d"]["val"]) for p in payloads]


def expected(ns: range) -> list[tuple[str, Any]]:
    return [(hr(n).to_wire()["ts"], hr(n).value) for n in ns]


async def test_samples_reach_the_consumer_in_order_and_leave_the_outbox(
    broker: LiveBroker, consumer: Consumer, nursery: trio.Nursery
) -> None:
    outbox = MemoryOutbox()
    link = ProducerLink(broker.ws_url, broker.token_provider(USER), outbox, FAST)
    nursery.start_soon(link.run)
    first = await outbox.add([hr(n) for n in range(30)])
    link.notify()
    second = await outbox.add([hr(n) for n in range(30, 50)])
    link.notify()
    assert values(await consumer.collect(50)) == expected(range(50))
    await link.wait_acked(second[-1])
    assert await outbox.depth() == 0
    assert link.state.acked == second[-1] and first[0] == 1
    assert all(p["uid"] == USER for p in consumer.received)


async def test_a_window_of_one_still_delivers_everything(
    broker: LiveBroker, consumer: Consumer, nursery: trio.Nursery
) -> None:
    outbox = MemoryOutbox()
    ids = await outbox.add([hr(n) for n in range(20)])
    link = ProducerLink(broker.ws_url, broker.token_provider(USER), outbox, LinkConfig(window=1))
    nursery.start_soon(link.run)
    await link.wait_acked(ids[-1])
    assert values(await consumer.collect(20)) == expected(range(20))


async def test_after_a_drop_it_reconnects_with_a_fresh_token_and_loses_nothing(
    broker: LiveBroker, consumer: Consumer, nursery: trio.Nursery
) -> None:
    outbox = MemoryOutbox()
    link = ProducerLink(broker.ws_url, broker.token_provider(USER), outbox, FAST)
    nursery.start_soon(link.run)
    for batch in range(5):
        await outbox.add([hr(n) for n in range(batch * 40, batch * 40 + 40)])
        link.notify()
        await consumer.collect(batch * 40 + 10)
        for connection in producer_connections(broker):
            await connection.close(CloseCode.INTERNAL_ERROR, "test: drop the producer")
    await link.wait_acked(200)
    assert values(await consumer.collect(200)) == expected(range(200))
    await trio.sleep(0.2)  # nothing more (no duplicate) arrives
    assert len(consumer.received) == 200
    assert link.state.connects >= 2


async def test_resends_of_what_the_broker_stored_are_not_dispatched_twice(
    broker: LiveBroker, consumer: Consumer, nursery: trio.Nursery
) -> None:
    """The broker stored ids 1-5 but the producer never saw the ack: it sends them again."""
    outbox = MemoryOutbox()
    await outbox.add([hr(n) for n in range(8)])
    token = await broker.user_token(USER)
    async with open_websocket_url(broker.ws_url) as ws:
        await ws.get_message()
        identify = {"op": 3, "d": {"token": token, "type": 0, "source": outbox.source, "ack": True}}
        await ws.send_message(orjson.dumps(identify).decode())
        assert orjson.loads(await ws.get_message())["op"] == 4
        for entry in await outbox.peek(-1, 5):
            submit = {"op": 6, "t": entry.sample.t, "d": entry.sample.to_wire(), "id": entry.id}
            await ws.send_message(orjson.dumps(submit).decode())
        with trio.fail_after(5):
            while orjson.loads(await ws.get_message()) != {"op": 9, "d": {"upto": 5}}:
                pass
    link = ProducerLink(broker.ws_url, broker.token_provider(USER), outbox, FAST)
    nursery.start_soon(link.run)
    await link.wait_acked(8)
    assert values(await consumer.collect(8)) == expected(range(8))
    await trio.sleep(0.2)
    assert len(consumer.received) == 8


async def test_device_presence_reaches_the_broker(broker: LiveBroker, nursery: trio.Nursery) -> None:
    link = ProducerLink(broker.ws_url, broker.token_provider(USER), MemoryOutbox(), FAST)
    link.report(DeviceStatus("sim:hr", True, "sim"))
    nursery.start_soon(link.run)
    key = (broker.dev_id, USER)
    with trio.fail_after(5):
        while "sim:hr" not in broker.running.hub.presence.get(key, {}):
            await trio.sleep(0.01)
    link.report(DeviceStatus("sim:hr", False, "sim", reason="out of range"))
    with trio.fail_after(5):
        while broker.running.hub.presence[key]["sim:hr"].connected:
            await trio.sleep(0.01)
    assert broker.running.hub.presence[key]["sim:hr"].reason == "out of range"


# Tokens ----------------------------------------------------------------------------------------


class ScriptedTokens:
    """Hands out what it is given, in order: a token, or an exception to raise."""

    def __init__(self, *answers: str | Exception, then: Callable[[], Awaitable[str]] | None = None):
        self.answers = list(answers)
        self.then = then
        self.calls = 0

    async def token(self) -> str:
        self.calls += 1
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        assert self.then is not None
        return await self.then()


async def test_a_refused_token_is_followed_by_a_fresh_one(
    broker: LiveBroker, consumer: Consumer, nursery: trio.Nursery
) -> None:
    tokens = ScriptedTokens(
        "not-a-token", TokenUnavailable("backend down"), then=broker.token_provider(USER).token
    )
    outbox = MemoryOutbox()
    ids = await outbox.add([hr(0)])
    link = ProducerLink(broker.ws_url, tokens, outbox, FAST)
    nursery.start_soon(link.run)
    await link.wait_acked(ids[-1])
    assert tokens.calls == 3


async def test_refused_credentials_stop_the_link(broker: LiveBroker) -> None:
    tokens = ScriptedTokens(CredentialsError("wrong API key"))
    link = ProducerLink(broker.ws_url, tokens, MemoryOutbox(), FAST)
    with pytest.raises(LinkStopped, match="wrong API key"):
        await link.run()


async def test_a_used_fixed_token_stops_the_link_after_a_drop(broker: LiveBroker) -> None:
    link = ProducerLink(broker.ws_url, FixedTokenProvider(await broker.user_token(USER)), MemoryOutbox(), FAST)

    async def drop_once() -> None:
        with trio.fail_after(5):
            while not link.state.connected:
                await trio.sleep(0.01)
        for connection in producer_connections(broker):
            await connection.close(CloseCode.GOING_AWAY, "test")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drop_once)
        with pytest.raises(LinkStopped, match="single use"):
            await link.run()


async def test_an_unreachable_broker_is_retried(nursery: trio.Nursery) -> None:
    with trio.socket.socket() as sock:  # a port that refuses connections
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        link = ProducerLink(f"ws://127.0.0.1:{port}/connect", ScriptedTokens(), MemoryOutbox(), FAST)
        nursery.start_soon(link.run)
        with trio.fail_after(5):
            while not (link.state.problem or "").endswith("is the broker running there?"):
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


# Scripted brokers ------------------------------------------------------------------------------


class Script:
    """A WebSocket server that says HELLO, READY, then runs ``after_ready`` on each connection."""

    def __init__(self, after_ready: Callable[[Any, "Script"], Awaitable[None]], interval_ms: int = 40_000):
        self.after_ready = after_ready
        self.interval_ms = interval_ms
        self.connections = 0
        self.frames: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: WebSocketRequest) -> None:
        ws = await request.accept()
        self.connections += 1
        hello = {"op": 2, "d": {"heartbeat_interval": self.interval_ms}}
        try:
            await ws.send_message(orjson.dumps(hello).decode())
            self.frames.append(orjson.loads(await ws.get_message()))
            await ws.send_message('{"op":4}')
            await self.after_ready(ws, self)
        except ConnectionClosed:
            pass

    async def serve(self, nursery: trio.Nursery) -> "Script":
        server = await nursery.start(serve_websocket, self.handle, "127.0.0.1", 0, None)
        self.url = f"ws://127.0.0.1:{server.port}/connect"
        return self


async def record(ws: Any, script: Script) -> None:
    """Keep every frame, answer nothing."""
    while True:
        script.frames.append(orjson.loads(await ws.get_message()))


async def test_a_missing_heartbeat_ack_means_a_dead_link(nursery: trio.Nursery) -> None:
    script = await Script(record, interval_ms=20).serve(nursery)
    link = ProducerLink(script.url, ScriptedTokens(then=lambda: _token()), MemoryOutbox(), FAST)
    nursery.start_soon(link.run)
    with trio.fail_after(10):
        while script.connections < 2:
            await trio.sleep(0.01)
    assert "HEARTBEAT_ACK" in (link.state.last_drop or "")
    identify = script.frames[0]
    assert identify["op"] == 3 and identify["d"]["type"] == 0 and identify["d"]["ack"] is True
    assert identify["d"]["source"] == link.outbox.source
    nursery.cancel_scope.cancel()


async def _token() -> str:
    return "token-" + str(random.random())


@pytest.mark.parametrize("code", [1003, 4003, 4004])
async def test_a_close_that_says_client_bug_stops_the_link(nursery: trio.Nursery, code: int) -> None:
    async def close(ws: Any, script: Script) -> None:
        await ws.aclose(code, "you did it wrong")

    script = await Script(close).serve(nursery)
    link = ProducerLink(script.url, ScriptedTokens(then=_token), MemoryOutbox(), FAST)
    with pytest.raises(LinkStopped, match=f"closed {code} \\(you did it wrong\\).*bug"):
        await link.run()


async def test_unacknowledged_submits_are_bounded_by_the_window(nursery: trio.Nursery) -> None:
    script = await Script(record).serve(nursery)
    outbox = MemoryOutbox()
    await outbox.add([hr(n) for n in range(50)])
    link = ProducerLink(script.url, ScriptedTokens(then=_token), outbox, LinkConfig(window=7))
    nursery.start_soon(link.run)

    def submits() -> list[int]:
        return [f["id"] for f in script.frames if f["op"] == 6]

    with trio.fail_after(5):
        while len(submits()) < 7:
            await trio.sleep(0.01)
    await trio.sleep(0.2)  # and no more arrive without an ack
    assert submits() == list(range(1, 8))
    assert await outbox.depth() == 50
    nursery.cancel_scope.cancel()


async def test_an_ack_beyond_what_was_sent_drops_the_connection(nursery: trio.Nursery) -> None:
    async def bogus_ack(ws: Any, script: Script) -> None:
        await ws.send_message('{"op":9,"d":{"upto":1000}}')
        await record(ws, script)

    script = await Script(bogus_ack).serve(nursery)
    outbox = MemoryOutbox()
    await outbox.add([hr(0)])
    link = ProducerLink(script.url, ScriptedTokens(then=_token), outbox, FAST)
    nursery.start_soon(link.run)
    with trio.fail_after(10):
        while script.connections < 2:
            await trio.sleep(0.01)
    assert await outbox.depth() == 1  # nothing deleted on the strength of that ack
    nursery.cancel_scope.cancel()
