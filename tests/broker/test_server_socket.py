"""ServerSocket over an in-memory stream, driven by wsproto's client frame layer."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from wsproto.frame_protocol import FrameProtocol, Opcode

from wearstream.adapters.websocket.framing import FrameError
from wearstream.adapters.websocket.server_socket import ConnectionClosed, ServerSocket


class Client:
    """The client end: wsproto frames in and out of a memory stream."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.frames = FrameProtocol(client=True, extensions=[])

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def next_frame(self) -> tuple[Opcode, object]:
        with trio.fail_after(5):
            while True:
                for frame in self.frames.received_frames():
                    return frame.opcode, frame.payload
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError
                self.frames.receive_bytes(data)


@pytest.fixture
def pair() -> tuple[ServerSocket, Client]:
    server_end, client_end = trio.testing.memory_stream_pair()
    return ServerSocket(server_end, "test", max_message=1000), Client(client_end)


async def test_a_batch_of_messages_and_a_ping_answered_on_the_way(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair
    data = client.frames.send_data("one") + client.frames.ping(b"hi") + client.frames.send_data(b"\x00two")
    await client.send(data)
    assert await server.receive_messages() == ["one", b"\x00two"]
    assert await client.next_frame() == (Opcode.PONG, b"hi")


async def test_many_messages_go_out_in_one_write(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair
    await server.send_messages(["a", "b" * 300, "c"])
    got = [await client.next_frame() for _ in range(3)]
    assert got == [(Opcode.TEXT, "a"), (Opcode.TEXT, "b" * 300), (Opcode.TEXT, "c")]


async def test_the_client_closes_and_is_answered_with_its_code(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair
    await client.send(client.frames.close(4321, "bye"))
    with pytest.raises(ConnectionClosed) as closed:
        await server.receive_messages()
    assert (closed.value.reason.code, closed.value.reason.reason) == (4321, "bye")
    opcode, payload = await client.next_frame()
    assert opcode is Opcode.CLOSE and payload[0] == 4321  # type: ignore[index]


async def test_the_server_closes_and_waits_for_the_answer(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair

    async def answer() -> None:
        opcode, payload = await client.next_frame()
        assert opcode is Opcode.CLOSE and payload[0] == 4001  # type: ignore[index]
        await client.send(client.frames.close(4001))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer)
        with trio.fail_after(1):  # the answer ends the wait: no CLOSE_TIMEOUT
            await server.aclose(4001, "bad token")
    assert server.closed is not None and server.closed.code == 4001
    with pytest.raises(ConnectionClosed):
        await server.send_message("too late")


async def test_the_server_closes_while_its_reader_waits(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair
    async with trio.open_nursery() as nursery:

        async def reader() -> None:
            with pytest.raises(ConnectionClosed):
                await server.receive_messages()

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(server.aclose, 1001, "going away")
        opcode, _ = await client.next_frame()
        assert opcode is Opcode.CLOSE
        await client.send(client.frames.close(1001))
    assert server.closed is not None and server.closed.code == 1001


async def test_a_protocol_violation_is_a_frame_error_and_the_close_does_not_wait(
    pair: tuple[ServerSocket, Client],
) -> None:
    server, client = pair
    await client.send(b"\x81\x02hi")  # unmasked
    with pytest.raises(FrameError) as error:
        await server.receive_messages()
    assert error.value.code == 1002
    with trio.fail_after(1):
        await server.aclose(error.value.code, error.value.reason)
    opcode, payload = await client.next_frame()
    assert opcode is Opcode.CLOSE and payload[0] == 1002  # type: ignore[index]


async def test_end_of_stream_is_an_abnormal_close(pair: tuple[ServerSocket, Client]) -> None:
    server, client = pair
    await client.stream.aclose()
    with pytest.raises(ConnectionClosed) as closed:
        await server.receive_messages()
    assert closed.value.reason.code == 1006

