"""RFC 6455 conformance of the broker's /connect, with frames written by hand (tests/interop/
rawws.py): what no client library will send, and the close code exactly as it came on the wire.

Everything here happens before IDENTIFY (HEARTBEAT is valid then), so no token is needed. A
framing error is answered with the close frame RFC 6455 7.1.7 asks for (1002, or 1007 for invalid
UTF-8) before the connection is dropped.
"""

from __future__ import annotations

import os

import pytest

from .conftest import Interop
from .rawws import (
    BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, Frame, RawClient, close_payload,
    encode_frame,
)

pytestmark = pytest.mark.e2e

HEARTBEAT = b'{"op":0}'
PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_PAYLOAD, MESSAGE_TOO_BIG = 1002, 1003, 1007, 1009
TOO_BIG = 2 * 1024 * 1024  # over the broker's documented 1 MiB message limit (docs/protocol.md)

@pytest.fixture
def client(broker: Interop) -> RawClient:
    """A client past the handshake that has read HELLO."""
    raw = RawClient(broker.ws_url)
    hello = raw.read_json()
    assert hello["op"] == 2
    return raw


def assert_heartbeat_acked(client: RawClient) -> None:
    assert client.read_json() == {"op": 1}


def assert_closed_with(client: RawClient, code: int, *, answer: bool = True) -> Frame:
    """The server's close frame carries ``code``; once the client has answered it, as a client
    must (``answer=False`` when the server's frame was itself the answer to the client's close),
    the server closes TCP (RFC 6455 7.1.1: the server closes the TCP connection first)."""
    close = client.read_close()
    assert close.close_code == code, (close.close_code, close.close_reason)
    if answer:
        client.answer_close(close)
    assert client.tcp_closed(), "the server kept TCP open after the close handshake"
    return close


# Ping and pong ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"hello", os.urandom(125)], ids=["empty", "short", "125-bytes"])
def test_a_ping_is_answered_with_a_pong_of_the_same_payload(client: RawClient, payload: bytes) -> None:
    client.send(PING, payload)
    pong = client.read_frame()
    assert (pong.opcode, pong.fin, pong.payload) == (PONG, True, payload)
    client.send(TEXT, HEARTBEAT)  # and the connection carries on
    assert_heartbeat_acked(client)


def test_an_unsolicited_pong_is_ignored(client: RawClient) -> None:
    client.send(PONG, b"unasked")
    client.send(TEXT, HEARTBEAT)
    assert_heartbeat_acked(client)


# Fragmentation ------------------------------------------------------------------------------


def test_a_fragmented_text_message_with_a_ping_between_fragments_is_reassembled(client: RawClient) -> None:
    client.send(TEXT, b'{"op"', fin=False)
    client.send(PING, b"between")
    client.send(CONTINUATION, b":", fin=False)
    client.send(CONTINUATION, b"0}")
    pong = client.read_frame()
    assert (pong.opcode, pong.payload) == (PONG, b"between")  # answered mid-message
    assert_heartbeat_acked(client)


def test_a_character_split_across_fragments_is_valid_utf8(client: RawClient) -> None:
    message = '{"op":0,"note":"é ♥"}'.encode()
    cut = message.index("é".encode()) + 1  # inside the two bytes of é
    client.send(TEXT, message[:cut], fin=False)
    client.send(CONTINUATION, message[cut:])
    assert_heartbeat_acked(client)


def test_a_continuation_without_a_message_to_continue_is_a_protocol_error(client: RawClient) -> None:
    client.send(CONTINUATION, HEARTBEAT)
    assert_closed_with(client, PROTOCOL_ERROR)


def test_a_new_message_inside_a_fragmented_one_is_a_protocol_error(client: RawClient) -> None:
    client.send(TEXT, b'{"op"', fin=False)
    client.send(TEXT, HEARTBEAT)
    assert_closed_with(client, PROTOCOL_ERROR)


# Framing rules --------------------------------------------------------------------------------


def test_an_unmasked_client_frame_is_a_protocol_error(client: RawClient) -> None:
    client.send(TEXT, HEARTBEAT, mask=False)
    assert_closed_with(client, PROTOCOL_ERROR)


@pytest.mark.parametrize("rsv", [0b100, 0b010, 0b001])
def test_reserved_bits_without_an_extension_are_a_protocol_error(client: RawClient, rsv: int) -> None:
    client.send(TEXT, HEARTBEAT, rsv=rsv)
    assert_closed_with(client, PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
def test_an_unknown_opcode_is_a_protocol_error(client: RawClient, opcode: int) -> None:
    client.send(opcode, b"x")
    assert_closed_with(client, PROTOCOL_ERROR)


def test_a_control_frame_over_125_bytes_is_a_protocol_error(client: RawClient) -> None:
    client.send(PING, b"x" * 126)
    assert_closed_with(client, PROTOCOL_ERROR)


def test_a_fragmented_control_frame_is_a_protocol_error(client: RawClient) -> None:
    client.send(PING, b"x", fin=False)
    assert_closed_with(client, PROTOCOL_ERROR)


# Payload rules --------------------------------------------------------------------------------


def test_invalid_utf8_in_a_text_message_closes_with_1007(client: RawClient) -> None:
    client.send(TEXT, b'{"op":0,"note":"\xff"}')
    assert_closed_with(client, INVALID_PAYLOAD)


def test_invalid_utf8_across_fragments_closes_with_1007(client: RawClient) -> None:
    client.send(TEXT, b'{"op":0,"note":"\xc3', fin=False)  # é's first byte, then no second
    client.send(CONTINUATION, b'("}')
    assert_closed_with(client, INVALID_PAYLOAD)


def send_regardless(client: RawClient, frames: list[bytes]) -> None:
    """Write frames until the server stops reading: a server may close before all of a too-big
    message has arrived, which the client then sees as a broken pipe."""
    try:
        for frame in frames:
            client.send_raw(frame)
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_a_message_over_the_size_limit_closes_with_1009(client: RawClient) -> None:
    send_regardless(client, [encode_frame(TEXT, b" " * TOO_BIG)])
    assert_closed_with(client, MESSAGE_TOO_BIG)


def test_a_fragmented_message_over_the_size_limit_closes_with_1009(client: RawClient) -> None:
    chunk = 64 * 1024
    count = TOO_BIG // chunk
    frames = [encode_frame(TEXT, b" " * chunk, fin=False)]
    frames += [encode_frame(CONTINUATION, b" " * chunk, fin=i == count - 2) for i in range(count - 1)]
    send_regardless(client, frames)
    assert_closed_with(client, MESSAGE_TOO_BIG)


# Binary messages (docs/interop.md) ------------------------------------------------------------


def test_a_binary_message_holding_a_json_frame_is_read_as_that_frame(client: RawClient) -> None:
    client.send(BINARY, HEARTBEAT)
    assert_heartbeat_acked(client)


def test_a_binary_message_that_is_not_json_closes_with_1003(client: RawClient) -> None:
    client.send(BINARY, b"\x00\x01\x02")
    close = assert_closed_with(client, UNSUPPORTED_DATA)
    assert close.close_reason


# Closing ---------------------------------------------------------------------------------------


def test_the_server_echoes_a_close_and_closes_tcp(client: RawClient) -> None:
    client.send(CLOSE, close_payload(1000, "bye"))
    assert_closed_with(client, 1000, answer=False)


@pytest.mark.parametrize("code", [1001, 3000, 4999])
def test_a_close_with_any_valid_code_is_echoed(client: RawClient, code: int) -> None:
    client.send(CLOSE, close_payload(code))
    assert_closed_with(client, code, answer=False)


def test_a_close_without_a_status_is_answered_and_tcp_closed(client: RawClient) -> None:
    client.send(CLOSE, b"")
    close = client.read_close()
    assert close.close_code in (None, 1000), close  # RFC 6455 5.5.1: an empty body, or 1000
    assert client.tcp_closed()


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_a_close_with_an_invalid_code_is_a_protocol_error(client: RawClient, code: int) -> None:
    client.send(CLOSE, close_payload(code))
    assert_closed_with(client, PROTOCOL_ERROR)


def test_a_close_with_a_one_byte_body_is_a_protocol_error(client: RawClient) -> None:
    client.send(CLOSE, b"\x03")
    assert_closed_with(client, PROTOCOL_ERROR)


def test_a_close_reason_that_is_not_utf8_closes_with_1007(client: RawClient) -> None:
    client.send(CLOSE, close_payload(1000) + b"\xff\xfe")
    assert_closed_with(client, INVALID_PAYLOAD)
