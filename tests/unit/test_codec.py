"""The JSON codec: strict decoding with typed errors, and encode/decode round trips."""

from __future__ import annotations

import json
import re

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.websocket.codec import (
    MAX_FRAME_BYTES,
    decode,
    encode,
    loads,
)
from wearstream.domain.closecodes import CloseCode
from wearstream.domain.errors import MalformedFrame, UnknownOpcode
from wearstream.domain.frames import (
    Dispatch,
    Heartbeat,
    HeartbeatAck,
    Hello,
    Identify,
    Invalid,
    Op,
    Ready,
    Replay,
    Status,
    Submit,
    SubmitAck,
    WarningFrame,
)
from wearstream.domain.identity import Role
from wearstream.domain.stream import Payload, ReplayRange

LABEL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
labels = st.text(alphabet=LABEL_CHARS, min_size=1, max_size=64)
u63 = st.integers(min_value=0, max_value=2**63 - 1)
finite = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    st.none() | st.booleans() | finite | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
readings = st.dictionaries(st.text(max_size=8), json_values, max_size=6)
short = st.text(min_size=1, max_size=40)

frames = st.one_of(
    st.just(Heartbeat()),
    st.just(HeartbeatAck()),
    st.just(Ready()),
    st.builds(Hello, u63),
    st.builds(Identify, short, st.sampled_from(Role), st.none() | short, st.booleans()),
    st.builds(Submit, labels, readings, st.none() | u63),
    st.builds(Replay, st.builds(ReplayRange, u63, u63)),
    st.builds(Status, st.booleans(), st.none() | short, st.none() | short, st.none() | short),
    st.builds(SubmitAck, u63),
    st.builds(
        lambda seq, uid, t, d, syn: Dispatch(Payload("", seq, uid, t, d, syn)),
        u63, short, labels, readings, st.booleans(),
    ),
)


@given(frames)
def test_encode_then_decode_gives_the_same_frame(frame: object) -> None:
    text = encode(frame)  # type: ignore[arg-type]
    assert isinstance(text, str)
    assert decode(text) == frame
    assert decode(text.encode()) == frame
    assert json.loads(text)["op"] == int(frame.op)  # type: ignore[attr-defined]


@given(uid=short, seq=u63, t=labels, d=readings, synthetic=st.booleans())
def test_dispatch_keeps_the_readings_key_order_and_the_frame_shape(
    uid: str, seq: int, t: str, d: dict, synthetic: bool
) -> None:
    text = encode(Dispatch(Payload("dev", seq, uid, t, d, synthetic)))
    obj = json.loads(text)
    assert list(obj["d"]) == list(d)
    assert obj["d"] == d
    assert (obj["op"], obj["uid"], obj["seq"], obj["t"]) == (5, uid, seq, t)
    assert ("synthetic" in obj) is synthetic  # absent unless synthetic
    assert set(obj) <= {"op", "uid", "seq", "t", "d", "synthetic"}


def test_t_is_never_case_folded() -> None:
    frame = decode('{"op":6,"t":"Running_Heart_Rate","d":{"val":1}}')
    assert isinstance(frame, Submit) and frame.t == "Running_Heart_Rate"
    out = json.loads(encode(Dispatch(Payload("", 1, "u", "Running_Heart_Rate", {"val": 1}))))
    assert out["t"] == "Running_Heart_Rate"


def test_a_terra_identify_decodes() -> None:
    assert decode('{"op":3,"d":{"token":"abc","type":0}}') == Identify("abc", Role.PRODUCER)
    assert decode('{"op":3,"d":{"token":"abc","type":1}}') == Identify("abc", Role.CONSUMER)


def test_status_with_only_connected() -> None:
    assert decode('{"op":8,"d":{"connected":false}}') == Status(False)
    assert json.loads(encode(Status(True))) == {"op": 8, "d": {"connected": True}}


@pytest.mark.parametrize(
    "message, fragment",
    [
        ("", "not JSON"),
        ("not json", "not JSON"),
        ("{", "not JSON"),
        ('{"op":6,"t":"HEART_RATE","d":{"val":NaN}}', "not JSON"),
        ('{"op":6,"t":"HEART_RATE","d":{"val":Infinity}}', "not JSON"),
        ('{"op":6,"t":"HEART_RATE","d":{"val":-Infinity}}', "not JSON"),
        ('{"op":6,"t":"HEART_RATE","d":{"val":1e999}}', "not JSON"),
        ("[]", "JSON object"),
        ('[{"op":0}]', "JSON object"),
        ('"op"', "JSON object"),
        ("42", "JSON object"),
        ("null", "JSON object"),
        ("{}", "op must be an integer"),
        ('{"op":"0"}', "op must be an integer"),
        ('{"op":true}', "op must be an integer"),
        ('{"op":0.0}', "op must be an integer"),
        ('{"op":null}', "op must be an integer"),
        ('{"op":3}', "IDENTIFY needs d"),
        ('{"op":3,"d":[]}', "IDENTIFY needs d"),
        ('{"op":3,"d":{"token":"x"}}', "d.type"),
        ('{"op":3,"d":{"token":"","type":0}}', "token"),
        ('{"op":3,"d":{"token":5,"type":0}}', "token"),
        ('{"op":3,"d":{"token":"x","type":3}}', "type"),
        ('{"op":3,"d":{"token":"x","type":"zero"}}', "type"),
        ('{"op":3,"d":{"token":"x","type":0.5}}', "type"),
        ('{"op":3,"d":{"token":"x","type":0,"extensions":1}}', "extensions"),
        ('{"op":3,"d":{"token":"x","type":true}}', "type"),
        ('{"op":3,"d":{"token":"x","type":0,"ack":"yes"}}', "ack"),
        ('{"op":3,"d":{"token":"x","type":0,"source":""}}', "source"),
        ('{"op":2,"d":{"heartbeat_interval":"40000"}}', "HELLO"),
        ('{"op":2}', "HELLO needs d"),
    ],
)
def test_malformed_frames_close_1003_with_a_reason(message: str, fragment: str) -> None:
    with pytest.raises(MalformedFrame, match=fragment) as info:
        decode(message)
    assert info.value.code is CloseCode.MALFORMED_FRAME
    assert info.value.reason


@pytest.mark.parametrize("op", [-1, 10, 42, 2**40])
def test_unknown_ops_close_4004(op: int) -> None:
    with pytest.raises(UnknownOpcode, match=str(op)) as info:
        decode(json.dumps({"op": op}))
    assert info.value.code is CloseCode.INVALID_OPCODE


@pytest.mark.parametrize(
    ("message", "op", "fragment", "submit_id"),
    [
        ('{"op":6,"d":{"val":1}}', Op.SUBMIT, "t must be a data type label", None),
        ('{"op":6,"t":"HEART RATE","d":{"val":1}}', Op.SUBMIT, "t must be a data type label", None),
        ('{"op":6,"t":"","d":{"val":1},"id":4}', Op.SUBMIT, "t must be a data type label", 4),
        ('{"op":6,"t":7,"d":{"val":1}}', Op.SUBMIT, "t must be a data type label", None),
        ('{"op":6,"t":"HEART_RATE"}', Op.SUBMIT, "SUBMIT needs d", None),
        ('{"op":6,"t":"HEART_RATE","d":5,"id":2}', Op.SUBMIT, "SUBMIT needs d", 2),
        ('{"op":6,"t":"HEART_RATE","d":{"val":1},"id":-1}', Op.SUBMIT, "id", None),
        ('{"op":6,"t":"HEART_RATE","d":{"val":1},"id":"1"}', Op.SUBMIT, "id", None),
        ('{"op":6,"t":"HEART_RATE","d":{"val":1},"id":9223372036854775808}', Op.SUBMIT, "id", None),
        ('{"op":7}', Op.REPLAY, "after and before", None),
        ('{"op":7,"d":{"after":1}}', Op.REPLAY, "without d.before replays nothing", None),
        ('{"op":7,"d":{"after":1,"before":"five"}}', Op.REPLAY, "before must be an integer", None),
        ('{"op":7,"d":{"after":1,"before":9223372036854775808}}', Op.REPLAY, "2\\*\\*63", None),
    ],
)
def test_a_submit_or_replay_with_bad_content_is_invalid_not_an_error(
    message: str, op: Op, fragment: str, submit_id: int | None
) -> None:
    frame = decode(message)
    assert isinstance(frame, Invalid) and frame.op is op and frame.submit_id == submit_id
    assert re.search(fragment, frame.reason)


@pytest.mark.parametrize("role", [1, 1.0, "1", " 1 ", "1.0"])
def test_identify_type_given_loosely_is_read_as_an_integer(role: object) -> None:
    frame = decode(json.dumps({"op": 3, "d": {"token": "x", "type": role}}))
    assert isinstance(frame, Identify) and frame.role is Role.CONSUMER


@pytest.mark.parametrize(("after", "before"), [(28, 43), (28.0, "43"), ("28", 43.0), ("28.0", "43")])
def test_replay_bounds_given_loosely_are_read_as_integers(after: object, before: object) -> None:
    frame = decode(json.dumps({"op": 7, "d": {"after": after, "before": before}}))
    assert frame == Replay(ReplayRange(28, 43))


def test_ready_and_warning_round_trip() -> None:
    assert decode(encode(Ready(17))) == Ready(17)
    assert encode(Ready()) == '{"op":4}'
    warning = WarningFrame(Op.SUBMIT, "bad", 3)
    assert decode(encode(warning)) == warning
    assert json.loads(encode(warning)) == {"op": 11, "d": {"op": 6, "reason": "bad", "id": 3}}


@pytest.mark.parametrize(
    "message",
    ['{"op":8}', '{"op":8,"d":{}}', '{"op":8,"d":{"connected":"yes"}}', '{"op":8,"d":[true]}',
     '{"op":8,"d":{"connected":true,"device_id":5}}',
     '{"op":8,"d":{"connected":true,"reason":"' + "x" * 257 + '"}}'],
)
def test_a_malformed_status_decodes_to_invalid_status_not_an_error(message: str) -> None:
    frame = decode(message)
    assert isinstance(frame, Invalid) and frame.op is Op.STATUS and frame.reason


def test_a_frame_too_large_is_malformed() -> None:
    big = '{"op":6,"t":"ECG","d":{"d":[' + ",".join(["1.0"] * 80_000) + "]}}"
    assert len(big) > MAX_FRAME_BYTES
    with pytest.raises(MalformedFrame, match="larger than"):
        decode(big)
    with pytest.raises(MalformedFrame, match="larger than"):
        decode(big.encode())


def test_the_size_limit_counts_bytes_of_a_text_frame() -> None:
    text = '{"op":0,"pad":"' + "é" * (MAX_FRAME_BYTES // 2 + 10) + '"}'
    assert len(text.encode()) > MAX_FRAME_BYTES
    with pytest.raises(MalformedFrame, match="larger than"):
        loads(text)


def test_unknown_fields_are_ignored_for_compatibility() -> None:
    assert decode('{"op":0,"d":null,"extra":1}') == Heartbeat()
    assert decode('{"op":3,"d":{"token":"t","type":1,"future":true}}') == Identify("t", Role.CONSUMER)


def test_big_integers_become_floats_and_stay_finite() -> None:
    frame = decode('{"op":6,"t":"STEPS","d":{"val":100000000000000000000000000000}}')
    assert isinstance(frame, Submit) and frame.d["val"] == 1e29


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_protocol_errors(data: bytes) -> None:
    try:
        decode(data)
    except (MalformedFrame, UnknownOpcode):
        pass


@given(st.dictionaries(st.sampled_from(["op", "d", "t", "uid", "seq", "id"]), json_values, max_size=5),
       st.integers(0, 9))
def test_arbitrary_objects_never_raise_anything_but_protocol_errors(obj: dict, op: int) -> None:
    obj.setdefault("op", op)
    try:
        decode(orjson.dumps(obj))
    except (MalformedFrame, UnknownOpcode):
        pass


def test_a_replay_beyond_retention_carries_the_trimmed_notice_and_plain_dispatches_do_not() -> None:
    frame = {"op": 5, "uid": "alice", "seq": 16, "t": "HEART_RATE", "d": {"ts": "2026-01-01T00:00:00Z", "val": 1}}
    assert decode(json.dumps({**frame, "trimmed": 15})).trimmed == 15
    assert decode(json.dumps(frame)).trimmed is None
    assert decode(json.dumps({**frame, "trimmed": True})).trimmed is None
