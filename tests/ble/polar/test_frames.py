"""PMD data frames and the delta format: frames from public sources, round trips, random bytes.

Sources (each test names its own):
- [SDK-ECG] polarofficial/polar-ble-sdk, sources/Android/android-communications/library/src/
  test/java/com/polar/androidcommunications/api/ble/model/gatt/client/pmd/model/EcgDataTest.kt
- [SDK-ACC] the same folder, AccDataTest.kt
- [bleakheart] fsmeraldi/bleakheart, src/bleakheart/core.py (PolarMeasurementData: ECG frames of
  3-byte signed µV, ACC frame type 1 of 16-bit x, y, z in mG)
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ble.errors import DecodeError
from wearstream.adapters.ble.polar.delta import decode_delta_payload
from wearstream.adapters.ble.polar.frames import AccFrame, EcgFrame, decode_frame, decode_header
from wearstream.testing.bluez_polar import encode_acc, encode_delta, encode_ecg, encode_header

SDK_TIMESTAMP = 2_000_000_000  # 00 94 35 77 00 00 00 00


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_header_fields():
    frame = decode_header(hexbytes("02 00 94 35 77 00 00 00 00 81 AA"))  # [SDK-ACC]
    assert (frame.measurement, frame.timestamp_ns, frame.frame_type, frame.compressed) == (2, SDK_TIMESTAMP, 1, True)
    assert frame.payload == b"\xaa"


def test_ecg_type_0_from_the_sdk():
    # [SDK-ECG] "process raw ecg data type 0": 02 80 FF -> -32766 µV, 02 80 00 -> 32770 µV
    frame = decode_frame(hexbytes("00 00 94 35 77 00 00 00 00 00  02 80 FF 02 80 00"))
    assert frame == EcgFrame(SDK_TIMESTAMP, (-32766, 32770))


ACC_TYPE_1_PAYLOAD = (
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    " F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    " FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    " F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    " FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    " F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    " F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    " F7 FF FE FF E6 03"
)


def test_acc_type_1_from_the_sdk():
    # [SDK-ACC] "process acc raw data frame type 1" (an H10 at rest, z ≈ 1 g)
    frame = decode_frame(hexbytes("02 00 94 35 77 00 00 00 00 01" + ACC_TYPE_1_PAYLOAD))
    assert isinstance(frame, AccFrame) and frame.timestamp_ns == SDK_TIMESTAMP
    assert frame.millig[:2] == ((-9, -1, 999), (-8, -2, 997))
    assert len(frame.millig) == len(hexbytes(ACC_TYPE_1_PAYLOAD)) // 6


ACC_COMPRESSED_TYPE_0_PAYLOAD = (
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF"
    " EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3"
    " CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03"
    " BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27"
    " 9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B"
    " 7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    " 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F"
    " 1F CB DA E3 C7 A2 76 F9"
)


def test_acc_compressed_type_0_from_the_sdk():
    # [SDK-ACC] "process acc compressed data type 0": reference (1905, 27376, -29282), one block
    # of 56 samples of 10-bit deltas, the first (+190, -105, -85); factor 2.44e-4 g, range 8 g.
    factor = 2.44e-4
    frame = decode_frame(hexbytes("02 00 94 35 77 00 00 00 00 80" + ACC_COMPRESSED_TYPE_0_PAYLOAD), factor=factor)
    assert len(frame.millig) == 57
    raw = [(1905, 27376, -29282), (1905 + 190, 27376 - 105, -29282 - 85)]
    for got, want in zip(frame.millig, raw):
        assert got == pytest.approx(tuple(c * factor * 1000 for c in want))
    assert all(abs(c) <= 8000 for sample in frame.millig for c in sample)


def test_acc_compressed_type_1_from_the_sdk():
    # [SDK-ACC] "process acc compressed data type 1": reference (-15, 20, 1008) mG, one 6-bit
    # sample 7B 0F 08 -> deltas (-5, -3, 0)
    frame = decode_frame(hexbytes("02 65 00 00 00 00 00 00 00 81  F1 FF 14 00 F0 03 06 01 7B 0F 08"))
    assert frame == AccFrame(0x65, ((-15, 20, 1008), (-20, 17, 1008)))


@pytest.mark.parametrize(
    "data, where",
    [
        (hexbytes("00 00 94 35 77"), "PMD data: truncated timestamp"),
        (hexbytes("00 00 94 35 77 00 00 00 00 00 02 80"), "PMD data (ECG frame type 0x00): 2 bytes left over"),
        (hexbytes("02 00 94 35 77 00 00 00 00 01"), "PMD data (ACC frame type 0x01): the frame carries no samples"),
        (hexbytes("02 00 94 35 77 00 00 00 00 07 00 00"), "PMD data (ACC frame type 0x07): unsupported ACC frame type"),
        (hexbytes("01 00 94 35 77 00 00 00 00 00 00 00"), "PMD data (PPG frame type 0x00): this measurement"),
        (hexbytes("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 09 7B"), "PMD data (ACC frame type 0x81): truncated delta block"),
        (hexbytes("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 00 01"), "delta bit width 0 is not 1..32"),
    ],
)
def test_malformed_frames_name_the_frame_type_and_offset(data, where):
    with pytest.raises(DecodeError, match="at offset") as caught:
        decode_frame(data)
    assert where in str(caught.value)


def test_errors_give_the_offset_in_the_frame():
    with pytest.raises(DecodeError) as caught:
        decode_frame(hexbytes("00 00 94 35 77 00 00 00 00 00 02 80 FF 02"))
    assert caught.value.offset == 13  # header 10 + one whole 3-byte sample


# --- round trips through the test encoders (wearstream.testing.bluez_polar) ----------------

int24 = st.integers(-(2**23), 2**23 - 1)
timestamps = st.integers(0, 2**64 - 1)


@given(timestamps, st.lists(int24, min_size=1, max_size=80))
def test_ecg_round_trip(ts, values):
    assert decode_frame(encode_ecg(ts, values)) == EcgFrame(ts, tuple(values))


@given(timestamps, st.sampled_from([1, 2, 3]), st.data())
def test_acc_raw_round_trip(ts, size, data):
    bound = 2 ** (8 * size - 1)
    component = st.integers(-bound, bound - 1)
    samples = data.draw(st.lists(st.tuples(component, component, component), min_size=1, max_size=40))
    assert decode_frame(encode_acc(ts, samples, size)).millig == tuple(samples)


int16 = st.integers(-(2**15), 2**15 - 1)


@given(st.lists(st.tuples(int16, int16, int16), min_size=1, max_size=300), st.integers(1, 255))
def test_delta_round_trip(samples, block):
    payload = encode_delta(samples, 16, block)
    assert decode_delta_payload(payload, 3, 16, "test") == samples


@given(st.lists(st.integers(-(2**13), 2**13 - 1), min_size=1, max_size=100))
def test_compressed_ecg_round_trip(values):
    data = encode_header(0, 5, 0x80) + encode_delta([(v,) for v in values], resolution=14)
    assert decode_frame(data, ecg_resolution=14) == EcgFrame(5, tuple(values))


@given(st.binary(max_size=300), st.floats(0.0001, 10))
def test_random_bytes_decode_or_raise_decode_error(data, factor):
    try:
        frame = decode_frame(data, factor=factor)
    except DecodeError as exc:
        assert "PMD data" in str(exc) and "at offset" in str(exc)
        if len(data) >= 10:
            assert f"frame type 0x{data[9]:02X}" in str(exc)
    else:
        assert isinstance(frame, (EcgFrame, AccFrame))


@given(st.binary(min_size=2, max_size=200))
def test_random_compressed_acc_payloads(payload):
    try:
        decode_frame(encode_header(2, 0, 0x81) + payload)
    except DecodeError as exc:
        assert "PMD data (ACC frame type 0x81)" in str(exc)
