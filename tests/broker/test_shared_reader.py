"""The shared reader: one task reading many real sockets, parking and waking their own tasks."""

from __future__ import annotations

import select
import socket
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url
from wsproto.frame_protocol import FrameProtocol

from wearstream.adapters.websocket.broker import Broker, Connection
from wearstream.adapters.websocket.server_socket import ConnectionClosed, Message, ServerSocket
from wearstream.adapters.websocket.shared_reader import SharedReader
from wearstream.domain.identity import Role
from wearstream.testing.fixtures import LiveBroker
from wearstream.testing.wire import identify, mint, receive, send

pytestmark = pytest.mark.skipif(not hasattr(select, "epoll"), reason="the shared reader needs epoll")


class Member:
    """A connection as the shared reader sees it: handles plain messages, or declines."""

    def __init__(self, ws: ServerSocket, *, fail: bool = False) -> None:
        self.ws = ws
        self.handled: list[Message] = []
        self.fail = fail

    def handle_shared(self, messages: list[Message], now: float) -> bool:
        if self.fail:
            raise RuntimeError("a bug met by this connection only")
        if "wake me" in messages:
            return False
        self.handled.extend(messages)
        return True


@pytest.fixture
async def reader(nursery: trio.Nursery) -> SharedReader:
    """A running shared reader (stopped with the test's nursery)."""
    shared = SharedReader()
    await nursery.start(shared.run)
    return shared


async def _socket_pair() -> tuple[ServerSocket, trio.SocketStream]:
    a, b = trio.socket.socketpair()
    return ServerSocket(trio.SocketStream(a), "test"), trio.SocketStream(b)


def _frames(*texts: str) -> bytes:
    client = FrameProtocol(client=True, extensions=[])
    return b"".join(client.send_data(text) for text in texts)


async def _eventually(check: object) -> None:
    with trio.fail_after(5):
        while not check():  # type: ignore[operator]
            await trio.sleep(0.001)


async def test_parked_members_are_served_in_one_task_until_one_needs_its_own(
    reader: SharedReader, nursery: trio.Nursery
) -> None:
    pairs = [await _socket_pair() for _ in range(3)]
    members = [Member(ws) for ws, _ in pairs]
    woken: list[int] = []

    async def park(index: int) -> None:
        await reader.wait(members[index])
        woken.append(index)

    for index in range(3):
        nursery.start_soon(park, index)
    await _eventually(lambda: len(reader) == 3)
    for index, (_, client) in enumerate(pairs):
        await client.send_all(_frames(f"reading {index}", "and one more"))
    await _eventually(lambda: all(len(m.handled) == 2 for m in members))
    assert woken == [] and len(reader) == 3  # no task of theirs ran
    await pairs[1][1].send_all(_frames("wake me"))
    await _eventually(lambda: woken == [1])
    assert len(reader) == 2


async def test_a_control_frame_or_the_end_of_the_stream_hands_the_socket_back(reader: SharedReader) -> None:
    ws, client = await _socket_pair()
    member = Member(ws)
    client_frames = FrameProtocol(client=True, extensions=[])
    await client.send_all(client_frames.send_data("first") + client_frames.ping(b"hi"))
    await reader.wait(member)  # the ping: the connection's own task answers it
    assert await ws.receive_messages() == ["first"]
    await client.aclose()
    await reader.wait(member)  # the end of the stream
    with pytest.raises(Exception):
        await ws.receive_messages()


async def test_an_error_in_one_member_is_raised_in_its_own_task_and_the_others_go_on(
    reader: SharedReader, nursery: trio.Nursery
) -> None:
    (bad_ws, bad_client), (good_ws, good_client) = await _socket_pair(), await _socket_pair()
    bad, good = Member(bad_ws, fail=True), Member(good_ws)
    raised: list[BaseException] = []

    async def park_bad() -> None:
        try:
            await reader.wait(bad)
        except RuntimeError as error:
            raised.append(error)

    nursery.start_soon(park_bad)
    nursery.start_soon(reader.wait, good)
    await _eventually(lambda: len(reader) == 2)
    await bad_client.send_all(_frames("boom"))
    await _eventually(lambda: raised)
    await good_client.send_all(_frames("still served"))
    await _eventually(lambda: good.handled == ["still served"])


async def test_a_cancelled_member_is_forgotten_and_its_descriptor_may_be_reused(
    reader: SharedReader, nursery: trio.Nursery
) -> None:
    ws, client = await _socket_pair()
    with trio.move_on_after(0.05):
        await reader.wait(Member(ws))
    assert len(reader) == 0
    await trio.aclose_forcefully(client)
    await ws.aclose()
    again, again_client = await _socket_pair()  # likely the same descriptor numbers
    member = Member(again)
    nursery.start_soon(reader.wait, member)
    await _eventually(lambda: len(reader) == 1)
    await again_client.send_all(_frames("hello"))
    await _eventually(lambda: member.handled == ["hello"])


async def test_members_are_woken_when_the_reader_stops() -> None:
    reader = SharedReader()
    ws, _client = await _socket_pair()
    woken = trio.Event()

    async def park() -> None:
        await reader.wait(Member(ws))
        woken.set()

    async with trio.open_nursery() as outer:
        async with trio.open_nursery() as nursery:
            await nursery.start(reader.run)
            outer.start_soon(park)
            await _eventually(lambda: len(reader) == 1)
            nursery.cancel_scope.cancel()
        with trio.fail_after(5):
            await woken.wait()
    assert not reader.available


async def test_a_socket_it_cannot_share_returns_at_once() -> None:
    reader = SharedReader()
    ws, _ = await _socket_pair()
    await reader.wait(Member(ws))  # not running: the caller reads in its own task
    async with trio.open_nursery() as nursery:
        await nursery.start(reader.run)
        await ws.aclose()
        await reader.wait(Member(ws))  # closed: no descriptor to watch
        nursery.cancel_scope.cancel()


async def test_a_real_broker_serves_identified_sessions_from_its_shared_reader(
    wearstream_broker: LiveBroker,
) -> None:
    """Producers wait in the shared reader once identified; their readings still arrive once and
    in order, and a heartbeat, an acknowledged SUBMIT and a close still get their answers."""
    broker = wearstream_broker.running.broker
    async with open_websocket_url(wearstream_broker.ws_url) as consumer:
        assert (await identify(consumer, await mint(wearstream_broker, "/auth/developer"), 1))["op"] == 4
        async with open_websocket_url(wearstream_broker.ws_url) as alice, open_websocket_url(
            wearstream_broker.ws_url
        ) as bob:
            for ws, user in ((alice, "alice"), (bob, "bob")):
                assert (await identify(ws, await mint(wearstream_broker, f"/auth/user?id={user}"), 0))["op"] == 4
            await _eventually(lambda: len(broker.shared) == 3)  # both producers and the consumer
            assert broker.developers_connected() == {wearstream_broker.dev_id}  # counted, not walked
            for n in range(5):
                for ws in (alice, bob):
                    await send(ws, {"op": 6, "t": "HEART_RATE", "d": {"ts": f"2026-12-06T10:00:0{n}Z", "val": 60 + n}})
            seen: dict[str, list[int]] = {"alice": [], "bob": []}
            while sum(map(len, seen.values())) < 10:
                frame = await receive(consumer)
                if frame["op"] == 5:
                    seen[frame["uid"]].append(frame["d"]["val"])
            assert seen == {"alice": [60, 61, 62, 63, 64], "bob": [60, 61, 62, 63, 64]}
            await send(alice, {"op": 0})
            assert (await receive(alice))["op"] == 1  # answered by the shared reader itself
            await _eventually(lambda: len(broker.shared) == 3)
            async with open_websocket_url(wearstream_broker.ws_url) as carol:
                assert (await receive(carol))["op"] == 2
                token = await mint(wearstream_broker, "/auth/user?id=carol")
                await send(carol, {"op": 3, "d": {"token": token, "type": 0, "source": "s1", "ack": True}})
                assert (await receive(carol))["op"] == 4
                await _eventually(lambda: len(broker.shared) == 4)
                for n in range(1, 4):
                    await send(carol, {"op": 6, "id": n, "t": "HEART_RATE", "d": {"val": 70}})
                upto = 0
                while upto < 3:
                    ack = await receive(carol)
                    assert ack["op"] == 9
                    upto = ack["d"]["upto"]
        await _eventually(lambda: len(broker.shared) == 1)  # the producers' close handshakes ended
        assert broker.developers_connected() == {wearstream_broker.dev_id}  # the consumer still is
    await _eventually(lambda: len(broker.shared) == 0)
    await _eventually(lambda: broker.developers_connected() == set())


async def _raw_connect(url: str) -> trio.SocketStream:
    hostport = url.split("//")[1].split("/")[0]
    host, port = hostport.rsplit(":", 1)
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(
        (
            f"GET /connect HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return stream


async def _read_until(stream: trio.SocketStream, buf: bytearray, needle: bytes) -> None:
    with trio.fail_after(5):
        while needle not in buf:
            data = await stream.receive_some(65536)
            if not data:
                raise EOFError
            buf += data


async def test_identify_arriving_during_a_broker_close_does_not_spend_the_token(
    wearstream_broker: LiveBroker,
) -> None:
    """A message read while the broker's close is under way is not carried out: an IDENTIFY
    that crossed our close frame does not spend the client's single-use token."""
    broker = wearstream_broker.running.broker
    token = await mint(wearstream_broker, "/auth/user?id=alice")
    stream = await _raw_connect(wearstream_broker.ws_url)
    buf = bytearray()
    await _read_until(stream, buf, b'"op":2')  # HELLO
    (conn,) = list(broker.connections)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.close, 1001, "server shutting down")
        await _read_until(stream, buf, b"\x88")  # our close frame came: the close is under way
        client = FrameProtocol(client=True, extensions=[])
        identify = orjson.dumps({"op": 3, "d": {"token": token, "type": 0}}).decode()
        await stream.send_all(client.send_data(identify))
        await trio.sleep(0.3)
        spent = await broker.tokens.peek(token) is None
        await stream.send_all(client.close(1000))  # the close handshake still waits for it
        with trio.move_on_after(3):
            while await stream.receive_some(65536):
                pass
    assert not spent, "a connection that was closing spent the client's single-use token"




async def test_a_parked_task_is_woken_when_a_write_of_its_own_ends_the_socket(
    reader: SharedReader, nursery: trio.Nursery
) -> None:
    """send_now left part of a frame; finishing it meets a peer that went away: the socket ends
    (no close frame after half a frame), and the task parked in the shared reader is woken."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ws = ServerSocket(trio.SocketStream(trio.socket.from_stdlib_socket(a)), "test")
    woken = trio.Event()

    async def park() -> None:
        await reader.wait(Member(ws))
        woken.set()

    nursery.start_soon(park)
    await _eventually(lambda: len(reader) == 1)
    rest = True
    while rest is True:
        rest = ws.send_now(["x" * 200_000])
    assert isinstance(rest, bytes)  # a partial write: the writers' turn stays taken
    b.close()  # the peer goes away with our data unread
    with pytest.raises(ConnectionClosed):
        await ws.finish_send(rest)
    with trio.fail_after(5):
        await woken.wait()
    assert len(reader) == 0 and ws.closed is not None


# Heartbeats answered in the shared reader (Connection.handle_shared) ------------------------------
#
# A connection whose task the shared reader wakes is forgotten by it (``ws.on_end`` is cleared)
# and parks again with a new ``on_end``: the same ``on_end`` object before and after, with the
# same number of parked members, shows that the connection's own task never ran meanwhile.


def _connection(broker: Broker, role: Role, user: str | None = None) -> Connection:
    (found,) = [
        c for c in broker.connections
        if c.principal is not None and c.principal.role is role and c.principal.user_id == user
    ]
    return found


def _reading(n: int) -> dict[str, Any]:
    return {"op": 6, "t": "HEART_RATE", "d": {"ts": f"2026-12-06T10:00:{n:02}Z", "val": 60 + n}}


class RawClient:
    """A WebSocket client on a bare TCP stream, so that several frames go in one TCP write."""

    def __init__(self, stream: trio.SocketStream, rest: bytes) -> None:
        self.stream = stream
        self._protocol = FrameProtocol(client=True, extensions=[])
        self._protocol.receive_bytes(rest)
        self._frames: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str) -> RawClient:
        stream = await _raw_connect(url)
        buf = bytearray()
        await _read_until(stream, buf, b"\r\n\r\n")
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        return cls(stream, rest)

    async def send(self, *frames: dict[str, Any]) -> None:
        """Every frame in one write."""
        data = b"".join(self._protocol.send_data(orjson.dumps(f).decode()) for f in frames)
        await self.stream.send_all(data)

    async def receive(self) -> dict[str, Any]:
        with trio.fail_after(5):
            while not self._frames:
                for frame in self._protocol.received_frames():
                    assert frame.opcode.name == "TEXT" and frame.message_finished, frame
                    self._frames.append(orjson.loads(frame.payload))
                if not self._frames:
                    data = await self.stream.receive_some(65536)
                    if not data:
                        raise EOFError
                    self._protocol.receive_bytes(data)
        return self._frames.pop(0)


async def _dispatched(consumer: WebSocketConnection, count: int) -> list[tuple[str, int]]:
    """The next ``count`` readings the consumer is sent, as (user, val)."""
    seen: list[tuple[str, int]] = []
    while len(seen) < count:
        frame = await receive(consumer)
        assert frame["op"] == 5, frame
        seen.append((frame["uid"], frame["d"]["val"]))
    return seen


async def test_a_parked_producers_heartbeat_is_answered_without_waking_its_task(
    wearstream_broker: LiveBroker,
) -> None:
    broker = wearstream_broker.running.broker
    async with open_websocket_url(wearstream_broker.ws_url) as consumer:
        assert (await identify(consumer, await mint(wearstream_broker, "/auth/developer"), 1))["op"] == 4
        async with open_websocket_url(wearstream_broker.ws_url) as alice:
            assert (await identify(alice, await mint(wearstream_broker, "/auth/user?id=alice"), 0))["op"] == 4
            await _eventually(lambda: len(broker.shared) == 2)
            conn = _connection(broker, Role.PRODUCER, "alice")
            parked = conn.ws.on_end
            assert parked is not None
            for n in range(3):
                await send(alice, {"op": 0})
                assert await receive(alice) == {"op": 1}
                await send(alice, _reading(n))
                assert await _dispatched(consumer, 1) == [("alice", 60 + n)]
            assert conn.ws.on_end is parked and len(broker.shared) == 2  # its task never ran
            await send(alice, {"op": 8, "d": {"device_id": "strap-1", "connected": True}})
            await _eventually(lambda: conn.ws.on_end is not parked)  # a STATUS still wakes it


async def test_submit_heartbeat_submit_in_one_write_are_all_answered_and_stored_in_order(
    wearstream_broker: LiveBroker,
) -> None:
    """The heartbeat between two readings is answered at once, in the shared reader, and both
    readings are stored, dispatched in order and acknowledged (acknowledged submits)."""
    broker = wearstream_broker.running.broker
    async with open_websocket_url(wearstream_broker.ws_url) as consumer:
        assert (await identify(consumer, await mint(wearstream_broker, "/auth/developer"), 1))["op"] == 4
        alice = await RawClient.connect(wearstream_broker.ws_url)
        assert (await alice.receive())["op"] == 2
        token = await mint(wearstream_broker, "/auth/user?id=alice")
        await alice.send({"op": 3, "d": {"token": token, "type": 0, "source": "s1", "ack": True}})
        assert await alice.receive() == {"op": 4}
        await _eventually(lambda: len(broker.shared) == 2)
        conn = _connection(broker, Role.PRODUCER, "alice")
        parked = conn.ws.on_end
        for round in range(3):
            first, second = 2 * round, 2 * round + 1
            await alice.send(
                {**_reading(first), "id": first + 1}, {"op": 0}, {**_reading(second), "id": second + 1}
            )
            answers = [await alice.receive(), await alice.receive()]
            assert answers == [{"op": 1}, {"op": 9, "d": {"upto": second + 1}}]
            assert await _dispatched(consumer, 2) == [("alice", 60 + first), ("alice", 60 + second)]
        assert conn.ws.on_end is parked and len(broker.shared) == 2  # its task never ran
        await alice.stream.aclose()


async def test_a_consumers_heartbeat_is_answered_between_the_readings_it_is_sent(
    wearstream_broker: LiveBroker,
) -> None:
    broker = wearstream_broker.running.broker
    async with open_websocket_url(wearstream_broker.ws_url) as consumer, open_websocket_url(
        wearstream_broker.ws_url
    ) as alice:
        assert (await identify(consumer, await mint(wearstream_broker, "/auth/developer"), 1))["op"] == 4
        assert (await identify(alice, await mint(wearstream_broker, "/auth/user?id=alice"), 0))["op"] == 4
        await _eventually(lambda: len(broker.shared) == 2)
        conn = _connection(broker, Role.CONSUMER)
        parked = conn.ws.on_end
        seen: list[int] = []
        for round in range(3):
            vals = [4 * round + n for n in range(4)]
            for n in vals[:2]:
                await send(alice, _reading(n))
            await send(consumer, {"op": 0})
            for n in vals[2:]:
                await send(alice, _reading(n))
            acks = 0
            while acks < 1 or len(seen) < vals[-1] + 1:
                frame = await receive(consumer)
                if frame["op"] == 1:
                    acks += 1
                else:
                    assert frame["op"] == 5 and frame["uid"] == "alice"
                    seen.append(frame["d"]["val"] - 60)
            assert acks == 1
        assert seen == list(range(12))
        assert conn.ws.on_end is parked and len(broker.shared) == 2  # its task never ran


async def test_a_producer_whose_socket_is_full_gets_every_heartbeat_ack_from_its_own_task(
    wearstream_broker: LiveBroker,
) -> None:
    """The socket takes no ack now (send_now: False, or only part of one): the connection's own
    task answers, as before; no ack is lost, and then the shared reader serves it again."""
    broker = wearstream_broker.running.broker
    async with open_websocket_url(wearstream_broker.ws_url) as consumer:
        assert (await identify(consumer, await mint(wearstream_broker, "/auth/developer"), 1))["op"] == 4
        alice = await RawClient.connect(wearstream_broker.ws_url)
        assert (await alice.receive())["op"] == 2
        await alice.send({"op": 3, "d": {"token": await mint(wearstream_broker, "/auth/user?id=alice"), "type": 0}})
        assert await alice.receive() == {"op": 4}
        await _eventually(lambda: len(broker.shared) == 2)
        conn = _connection(broker, Role.PRODUCER, "alice")
        # Small buffers on both ends (the same socket, through a second descriptor): a few
        # thousand unread acks fill them.
        with socket.fromfd(conn.ws.fileno(), socket.AF_INET, socket.SOCK_STREAM) as server_side:
            server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        alice.stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        parked = conn.ws.on_end
        sent = 0
        done = trio.Event()

        async def heartbeat() -> None:
            nonlocal sent
            while conn.ws.on_end is parked:  # until the socket took no more and the task woke
                await alice.send(*[{"op": 0}] * 500)
                sent += 500
            done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat)
            with trio.fail_after(20):
                await done.wait()
            acks = 0
            with trio.fail_after(20):
                while acks < sent:
                    assert await alice.receive() == {"op": 1}
                    acks += 1
        assert acks == sent
        await _eventually(lambda: len(broker.shared) == 2)  # parked again
        parked = conn.ws.on_end
        await alice.send(_reading(1), {"op": 0}, _reading(2))
        assert await alice.receive() == {"op": 1}
        assert await _dispatched(consumer, 2) == [("alice", 61), ("alice", 62)]
        assert conn.ws.on_end is parked
        await alice.stream.aclose()
