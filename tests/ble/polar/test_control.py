"""The PMD control point: requests, responses, settings TLVs, features, and the spec options.

Sources:
- [SDK-CP] polarofficial/polar-ble-sdk, sources/Android/android-communications/library/src/test/
  java/com/polar/androidcommunications/api/ble/model/gatt/client/pmd/
  BlePmdClientControlPointResponseTest.kt
- [SDK-SET] the same folder, BlePmdClientPmdSettingsTest.java
- [bleakheart] fsmeraldi/bleakheart, src/bleakheart/core.py: op codes GET 1, START 2, STOP 3;
  settings as ``type, 1, value`` (2 bytes, channels 1); H10 defaults ECG 130 Hz/14 bit and
  ACC 200 Hz/16 bit/2 g; the error-code table.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ble.errors import DecodeError
from wearstream.adapters.ble.polar.control import (
    Response,
    Setting,
    decode_continuation,
    decode_features,
    decode_response,
    decode_settings,
    error_name,
    get_settings_request,
    start_request,
    stop_request,
)
from wearstream.adapters.ble.polar.options import PmdOptions, PmdSetupError, choose_settings, split_spec
from wearstream.adapters.ble.polar.service import Measurement
from wearstream.adapters.ble.transport import BleTransport
from wearstream.domain.errors import SpecError
from wearstream.testing.bluez_polar import OFFERED, encode_settings


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_requests_as_bleakheart_writes_them():
    # [bleakheart] start_streaming('ECG') with its H10 defaults, and ('ACC') likewise
    ecg = {Setting.SAMPLE_RATE: 130, Setting.RESOLUTION: 14}
    assert start_request(Measurement.ECG, ecg) == hexbytes("02 00 00 01 82 00 01 01 0E 00")
    acc = {Setting.RANGE: 2, Setting.SAMPLE_RATE: 200, Setting.RESOLUTION: 16}
    assert start_request(Measurement.ACC, acc) == hexbytes("02 02 00 01 C8 00 01 01 10 00 02 01 02 00")
    assert get_settings_request(Measurement.ACC) == b"\x01\x02"
    assert stop_request(Measurement.ECG) == b"\x03\x00"


def test_the_factor_is_never_sent():
    assert start_request(Measurement.ACC, {Setting.SAMPLE_RATE: 52, Setting.FACTOR: 1}) == hexbytes("02 02 00 01 34 00")


def test_success_response_from_the_sdk():
    # [SDK-CP] "success control point response for acc stream settings"
    response = decode_response(hexbytes("F0 01 02 00 00 FF FF FF"))
    assert response == Response(1, 2, 0, False, b"\xff\xff\xff")
    assert response.ok and response.error == "SUCCESS"


def test_error_response_from_the_sdk():
    # [SDK-CP] "failing control point response for mag stream settings": error 7
    response = decode_response(hexbytes("F0 01 06 07 00"))
    assert not response.ok and response.error == "INVALID_RESOLUTION"
    assert decode_response(hexbytes("F0 02 00 06")).error == "ALREADY_IN_STATE"  # no "more" byte
    assert error_name(13) == "DEVICE_IN_CHARGER" and error_name(99) == "ERROR_99"


def test_more_and_continuations():
    assert decode_response(hexbytes("F0 01 02 00 01 00 01")).more
    assert decode_continuation(hexbytes("00 34 00")) == (False, b"\x34\x00")


def test_settings_with_ranges_from_the_sdk():
    # [SDK-SET] testPmdSettingsWithRange
    data = hexbytes("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    assert decode_settings(data) == {
        Setting.SAMPLE_RATE: (52,),
        Setting.RESOLUTION: (16,),
        Setting.RANGE: (245, 500, 1000, 2000),
        Setting.CHANNELS: (3,),
    }


def test_settings_with_range_in_milli_units_from_the_sdk():
    # [SDK-SET] testPmdSettingWithRangeMilliUnit: 4-byte signed values
    data = hexbytes("03 02 FF FF FF FF FF 00 00 00 01 01 0E 00")
    assert decode_settings(data) == {Setting.RANGE_MILLIUNIT: (-1, 255), Setting.RESOLUTION: (14,)}


def test_the_factor_is_an_ieee754_float():
    data = bytes([5, 1]) + struct.pack("<f", 2.44e-4)
    assert decode_settings(data)[Setting.FACTOR][0] == pytest.approx(2.44e-4)


def test_features_read():
    assert decode_features(hexbytes("0F 05 00")) == {Measurement.ECG, Measurement.ACC}
    with pytest.raises(DecodeError, match="feature code 0x01"):
        decode_features(b"\x01\x05")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated response code"),
        (hexbytes("0F 01 02 00"), "response code 0x0F is not 0xF0 at offset 0"),
        (hexbytes("F0 01"), r"truncated measurement type \(needs 1 bytes, 0 left\) at offset 2"),
    ],
)
def test_malformed_responses(data, message):
    with pytest.raises(DecodeError, match=message):
        decode_response(data)


def test_malformed_settings():
    with pytest.raises(DecodeError, match="unknown setting type 9 at offset 0"):
        decode_settings(b"\x09\x01\x00")
    with pytest.raises(DecodeError, match="truncated SAMPLE_RATE"):
        decode_settings(b"\x00\x02\x34\x00\x1a")


@given(st.binary(max_size=64))
def test_random_control_point_bytes_raise_only_decode_error(data):
    for decode in (decode_response, decode_settings, decode_features):
        try:
            decode(data)
        except DecodeError as exc:
            assert "PMD control point" in str(exc)


# --- choosing settings and the spec options ------------------------------------------------


def test_choose_the_wanted_values_and_the_largest_of_the_rest():
    acc = OFFERED[Measurement.ACC]
    chosen = choose_settings(Measurement.ACC, acc, {Setting.SAMPLE_RATE: 50})
    assert chosen == {Setting.SAMPLE_RATE: 50, Setting.RESOLUTION: 16, Setting.RANGE: 8}
    assert choose_settings(Measurement.ECG, OFFERED[Measurement.ECG], {}) == {
        Setting.SAMPLE_RATE: 130, Setting.RESOLUTION: 14
    }


def test_a_value_not_offered_is_refused_with_what_is():
    with pytest.raises(PmdSetupError, match=r"ACC range 16 is not offered \(offers 2, 4, 8\)"):
        choose_settings(Measurement.ACC, OFFERED[Measurement.ACC], {Setting.SAMPLE_RATE: 50, Setting.RANGE: 16})
    with pytest.raises(PmdSetupError, match="offers no sample rate"):
        choose_settings(Measurement.ECG, {}, {})


def test_encoded_settings_decode_back():
    assert decode_settings(encode_settings(OFFERED[Measurement.ACC])) == OFFERED[Measurement.ACC]


@pytest.mark.parametrize(
    "spec, base, options",
    [
        ("A0:9E:1A:00:00:10", "A0:9E:1A:00:00:10", PmdOptions()),
        ("A0:9E:1A:00:00:10?ecg=1", "A0:9E:1A:00:00:10", PmdOptions(ecg=True)),
        ("name=Polar*?ecg=1&acc=50&acc_range=8", "name=Polar*", PmdOptions(True, 50, 8)),
        ("name=Polar*?acc=200&ecg=0", "name=Polar*", PmdOptions(False, 200)),
    ],
)
def test_spec_options(spec, base, options):
    assert split_spec(spec) == (base, options)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("A0:9E:1A:00:00:10?ppg=1", "unknown option 'ppg'"),
        ("A0:9E:1A:00:00:10?ecg=yes", "ecg='yes' must be 0 or 1"),
        ("A0:9E:1A:00:00:10?acc=fast", "acc='fast' needs a positive whole number"),
        ("A0:9E:1A:00:00:10?acc_range=8", "acc_range needs acc=HZ too"),
    ],
)
def test_bad_spec_options(spec, message):
    with pytest.raises(SpecError, match=message):
        BleTransport().open(spec)


def test_requests_in_order():
    assert PmdOptions(True, 25, 4).requests() == [
        (Measurement.ECG, {}),
        (Measurement.ACC, {Setting.SAMPLE_RATE: 25, Setting.RANGE: 4}),
    ]
    assert not PmdOptions().requested
