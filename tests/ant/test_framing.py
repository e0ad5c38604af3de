"""The ANT serial message format (ANT Message Protocol and Usage, section 7.1) and the guard that
keeps corrupt bytes away from openant's reader."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ant.framing import FrameSplitter, encode_message, extended_channel_id

messages = st.builds(
    encode_message, st.integers(0, 255), st.binary(min_size=1, max_size=20)
)


def test_encode_reset_system():
    # the documented example: Reset System is A4 01 4A 00 EF
    assert encode_message(0x4A, b"\x00") == bytes([0xA4, 0x01, 0x4A, 0x00, 0xEF])


def test_empty_payload_is_refused():
    with pytest.raises(ValueError):
        encode_message(0x4A, b"")


def test_bad_checksum_is_skipped_and_the_next_message_kept():
    good = encode_message(0x4E, bytes(9))
    bad = good[:-1] + bytes([good[-1] ^ 1])
    splitter = FrameSplitter()
    assert splitter.feed(b"\x00\x17" + bad + good) == [good]
    assert splitter.skipped == 2 + len(bad)


def test_partial_message_waits_for_the_rest():
    good = encode_message(0x40, b"\x00\x46\x00")
    splitter = FrameSplitter()
    assert splitter.feed(good[:4]) == []
    assert splitter.feed(good[4:]) == [good]


def test_extended_channel_id():
    data = bytes(8) + bytes([0x80, 0x92, 0x10, 0x78, 0x01])
    assert extended_channel_id(data) == (0x1092, 120)
    assert extended_channel_id(bytes(8)) is None


@given(st.lists(messages, max_size=8), st.data())
def test_messages_survive_any_chunking(frames, data):
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    splitter = FrameSplitter()
    out = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        out += splitter.feed(stream[start:end])
    assert out == frames
    assert splitter.skipped == 0


@given(st.binary(max_size=200))
def test_noise_never_raises_and_only_checksummed_frames_pass(noise):
    for frame in FrameSplitter().feed(noise):
        assert frame[0] == 0xA4 and len(frame) == frame[1] + 4
