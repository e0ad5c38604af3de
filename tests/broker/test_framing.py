"""The server's RFC 6455 frame codec, against frames built by wsproto (an independent codec)."""

from __future__ import annotations

import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto.frame_protocol import FrameProtocol, Opcode

from wearstream.adapters.websocket.framing import (
    CLOSE,
    PING,
    Control,
    FrameError,
    FrameParser,
    close_frame,
    text_frames,
)

LIMIT = 1024


def masked(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, mask: bool = True) -> bytes:
    """One client frame, built by hand (so a test can also build a broken one)."""
    size = len(payload)
    head = bytes((0x80 * fin | rsv << 4 | opcode,))
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes((bit | size,))
    elif size < 65536:
        head += bytes((bit | 126,)) + size.to_bytes(2, "big")
    else:
        head += bytes((bit | 127,)) + size.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse(data: bytes, limit: int = LIMIT) -> list[object]:
    parser = FrameParser(limit)
    parser.feed(data)
    return parser.parse()


def error_of(data: bytes, limit: int = LIMIT) -> int:
    with pytest.raises(FrameError) as raised:
        parse(data, limit)
    return raised.value.code


def test_text_frames_match_wsprotos_framing_at_every_length_boundary() -> None:
    messages = ["x" * n for n in (0, 1, 125, 126, 127, 65535, 65536, 70000)] + ["µs ✓"]
    expected = b"".join(FrameProtocol(client=False, extensions=[]).send_data(m, fin=True) for m in messages)
    assert text_frames(messages) == expected


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300)), min_size=1, max_size=5),
    cut=st.integers(min_value=1, max_value=64),
)
def test_messages_from_wsprotos_client_frames_in_any_chunking(messages: list[str | bytes], cut: int) -> None:
    client = FrameProtocol(client=True, extensions=[])
    data = b"".join(client.send_data(m, fin=True) for m in messages)
    parser = FrameParser(LIMIT)
    got: list[object] = []
    for i in range(0, len(data), cut):
        parser.feed(data[i : i + cut])
        got += parser.parse()
    assert got == messages


def test_a_fragmented_message_with_a_ping_between_its_fragments() -> None:
    data = (
        masked(0x1, "héllo ".encode()[:2], fin=False)
        + masked(PING, b"are you there")
        + masked(0x0, "héllo ".encode()[2:], fin=False)
        + masked(0x0, b"world", fin=True)
    )
    assert parse(data) == [Control(PING, b"are you there"), "héllo world"]


@pytest.mark.parametrize("opcode", [0x1, 0x2])
def test_a_message_of_many_empty_fragments_holds_no_memory(opcode: int) -> None:
    """Empty fragments add nothing to the size the limit counts: each used to add a list slot,
    so one connection could grow the broker by hundreds of MiB inside one message."""
    parser = FrameParser(LIMIT)
    parser.feed(masked(opcode, b"", fin=False))
    parser.parse()
    empty = masked(0x0, b"", fin=False) * 10_000
    tracemalloc.start()
    try:
        for _ in range(20):
            parser.feed(empty)
            assert parser.parse() == []
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 64 * 1024, f"{held} bytes held for 200,000 empty fragments"
    parser.feed(masked(0x0, b"end"))
    assert parser.parse() == (["end"] if opcode == 0x1 else [b"end"])


def test_a_message_in_small_fragments_is_whole_and_utf8_checked_across_them() -> None:
    text = "héllo wörld ✓" * 20
    data = text.encode()
    frames = [masked(0x1 if i == 0 else 0x0, data[i : i + 3], fin=i + 3 >= len(data)) for i in range(0, len(data), 3)]
    assert parse(b"".join(frames)) == [text]
    binary = bytes(range(256))
    frames = [masked(0x2 if i == 0 else 0x0, binary[i : i + 2], fin=i + 2 >= 256) for i in range(0, 256, 2)]
    assert parse(b"".join(frames)) == [binary]


def test_unmasked_client_frames_are_a_protocol_error() -> None:
    assert error_of(masked(0x1, b"hi", mask=False)) == 1002


@pytest.mark.parametrize(
    "data",
    [
        masked(0x1, b"x", rsv=1),  # reserved bit, no extension negotiated
        masked(0x3, b"x"),  # reserved data opcode
        masked(0xB, b"x"),  # reserved control opcode
        masked(0x0, b"x"),  # continuation with no message started
        masked(0x1, b"a", fin=False) + masked(0x1, b"b"),  # new message inside a fragmented one
        masked(PING, b"x" * 126),  # control frame too long
        masked(PING, b"x", fin=False),  # fragmented control frame
        masked(CLOSE, b"\x03"),  # close payload of one byte
        masked(CLOSE, (1005).to_bytes(2, "big")),  # a code that is never sent
        masked(CLOSE, (999).to_bytes(2, "big")),
    ],
    ids=[  # the masks are random: named ids keep the collection the same in every process
        "reserved-bit", "reserved-data-opcode", "reserved-control-opcode", "lone-continuation",
        "message-inside-fragments", "long-control", "fragmented-control", "one-byte-close",
        "close-1005", "close-999",
    ],
)
def test_protocol_errors_close_with_1002(data: bytes) -> None:
    assert error_of(data) == 1002


def test_invalid_utf8_closes_with_1007_even_across_fragments() -> None:
    assert error_of(masked(0x1, b"\xff\xfe")) == 1007
    assert error_of(masked(0x1, b"ok \xc3", fin=False) + masked(0x0, b"(", fin=True)) == 1007
    assert error_of(masked(0x1, b"\xed\xa0\x80", fin=False)) == 1007  # a surrogate fails at once
    assert error_of(masked(CLOSE, (1000).to_bytes(2, "big") + b"\xff")) == 1007


def test_too_large_closes_with_1009_from_the_header_alone() -> None:
    header_only = masked(0x1, b"x" * (LIMIT + 1))[:14]
    assert error_of(header_only) == 1009
    assert error_of(masked(0x2, b"x" * 600, fin=False) + masked(0x0, b"x" * 600)[:14]) == 1009
    assert parse(masked(0x2, b"x" * LIMIT)) == [b"x" * LIMIT]


def test_nothing_is_read_after_a_close_frame() -> None:
    data = masked(0x1, b"before") + masked(CLOSE, (1000).to_bytes(2, "big") + b"bye") + masked(0x1, b"after")
    assert parse(data) == ["before", Control(CLOSE, (1000).to_bytes(2, "big") + b"bye")]


def test_close_frames_fit_125_bytes() -> None:
    frame = close_frame(4001, "é" * 200)
    assert frame[0] == 0x88 and frame[1] <= 125
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(frame)
    (received,) = list(client.received_frames())
    assert received.opcode is Opcode.CLOSE and received.payload[0] == 4001
