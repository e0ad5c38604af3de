"""The wire codec: JSON text frames to domain frames and back (cattrs + orjson).

A frame that is not a JSON object, has no integer ``op``, or is an IDENTIFY without a usable token
becomes a typed domain error (MalformedFrame → close 1003, UnknownOpcode → close 4004) with a
reason that says what was wrong. A SUBMIT, REPLAY or STATUS whose content is wrong becomes an
``Invalid`` frame instead: the session drops it and the client stays connected (docs/protocol.md).
Lenient where Terra clients are sloppy (IDENTIFY ``type`` "1", REPLAY bounds 28.0 or "28"), strict
where data would be corrupted (a bool is not a number, ``NaN`` is not JSON).

DISPATCH frames are encoded once per payload and the same text is sent to every consumer; the
reading ``d`` is forwarded exactly as the producer sent it (key order included).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import cattrs
import orjson

from ...domain.errors import MalformedFrame, UnknownOpcode
from ...domain.frames import (
    Dispatch,
    Frame,
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
from ...domain.datatypes import is_label
from ...domain.errors import ReplayRangeError
from ...domain.identity import Role
from ...domain.integers import INT64_MAX, lenient_int
from ...domain.stream import Payload, ReplayRange

MAX_FRAME_BYTES = 256 * 1024


def _strict(kind: type, name: str) -> Callable[[Any, type], Any]:
    def check(value: Any, _: type) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"must be {name}")
        return value

    return check


_converter = cattrs.Converter(forbid_extra_keys=False)
_converter.register_structure_hook(int, _strict(int, "an integer"))
_converter.register_structure_hook(str, _strict(str, "a string"))
_converter.register_structure_hook(bool, _strict(bool, "true or false"))
_converter.register_structure_hook(Role, lambda v, _: Role(_strict(int, "0 or 1")(v, int)))


def _structure(d: Any, cls: type, what: str) -> Any:
    try:
        return _converter.structure(d, cls)
    except cattrs.BaseValidationError as error:
        raise MalformedFrame(f"{what}: {_explain(error)}") from None
    except (TypeError, ValueError) as error:
        raise MalformedFrame(f"{what}: {error}") from None


def _explain(error: cattrs.BaseValidationError) -> str:
    """Every concrete reason inside a cattrs validation error, each with the field it concerns."""
    return "; ".join(cattrs.transform_error(error))


def loads(message: str | bytes) -> dict[str, Any]:
    """Parse one frame's JSON object; MalformedFrame when it is not one."""
    size = len(message)
    if not isinstance(message, bytes) and size * 4 > MAX_FRAME_BYTES:  # UTF-8: ≤4 bytes a char
        size = len(message.encode())
    if size > MAX_FRAME_BYTES:
        raise MalformedFrame(f"frame larger than {MAX_FRAME_BYTES} bytes")
    try:
        obj = orjson.loads(message)
    except orjson.JSONDecodeError as error:
        raise MalformedFrame(f"not JSON: {error.msg}") from None
    if not isinstance(obj, dict):
        raise MalformedFrame("a frame is a JSON object")
    return obj


def decode(message: str | bytes, decoders: Decoders | None = None) -> Frame:
    """One wire message to one frame (either direction; the broker passes FROM_CLIENTS)."""
    obj = loads(message)
    op = obj.get("op")
    if not isinstance(op, int) or isinstance(op, bool):
        raise MalformedFrame("op must be an integer")
    # Op is an IntEnum: an int finds its key (Op(op) costs more)
    decoder = (_DECODERS if decoders is None else decoders).get(op)
    if decoder is None:
        raise UnknownOpcode(f"unknown op {op}")
    return decoder(obj)


def _d(obj: dict[str, Any], what: str, *, required: bool = True) -> dict[str, Any]:
    d = obj.get("d")
    if d is None and not required:
        return {}
    if not isinstance(d, dict):
        raise MalformedFrame(f"{what} needs d as an object")
    return d


def _identify(obj: dict[str, Any]) -> Identify:
    d = _d(obj, "IDENTIFY")
    if "token" not in d or "type" not in d:
        raise MalformedFrame("IDENTIFY needs d.token and d.type")
    token, role = d["token"], lenient_int(d["type"])  # "1" and 1.0 are read as 1
    if not isinstance(token, str) or not token:
        raise MalformedFrame("IDENTIFY d.token must be a non-empty string")
    if role not in (0, 1, 2):
        raise MalformedFrame("IDENTIFY d.type must be 0 (user) or 1 (developer)")
    source, ack = d.get("source"), d.get("ack", False)
    extensions = d.get("extensions", False)
    if source is not None and (not isinstance(source, str) or not 0 < len(source) <= 128):
        raise MalformedFrame("IDENTIFY d.source must be a string of 1-128 characters")
    if not isinstance(ack, bool):
        raise MalformedFrame("IDENTIFY d.ack must be true or false")
    if not isinstance(extensions, bool):
        raise MalformedFrame("IDENTIFY d.extensions must be true or false")
    return Identify(token, Role(role), source, ack, extensions)


def _submit(obj: dict[str, Any]) -> Submit | Invalid:
    submit_id = obj.get("id")
    if submit_id is not None and (
        not isinstance(submit_id, int) or isinstance(submit_id, bool)
        or not 0 <= submit_id <= INT64_MAX
    ):
        return Invalid(Op.SUBMIT, "SUBMIT id must be an integer from 0 to 2**63-1")
    t = obj.get("t")
    if not is_label(t):
        return Invalid(
            Op.SUBMIT, "SUBMIT t must be a data type label: 1-64 letters, digits, underscores", submit_id
        )
    d = obj.get("d")
    if not isinstance(d, dict):
        return Invalid(Op.SUBMIT, "SUBMIT needs d as an object", submit_id)
    return Submit(t, d, submit_id)  # type: ignore[arg-type]


def _replay(obj: dict[str, Any]) -> Replay | Invalid:
    try:
        return Replay(ReplayRange.from_wire(obj.get("d")))
    except ReplayRangeError as error:
        return Invalid(Op.REPLAY, error.reason)


def _status(obj: dict[str, Any]) -> Status | Invalid:
    d = obj.get("d")
    if not isinstance(d, dict) or not isinstance(d.get("connected"), bool):
        return Invalid(Op.STATUS, "STATUS needs d.connected as true or false")
    for name in ("device_id", "source", "reason"):
        value = d.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 256):
            return Invalid(Op.STATUS, f"STATUS d.{name} must be a string of at most 256 characters")
    return Status(d["connected"], d.get("device_id"), d.get("source"), d.get("reason"))


def _ready(obj: dict[str, Any]) -> Ready:
    d = obj.get("d")
    seq = d.get("seq") if isinstance(d, dict) else None
    return Ready(seq if isinstance(seq, int) and not isinstance(seq, bool) else None)


def _warning(obj: dict[str, Any]) -> WarningFrame:
    d = _d(obj, "WARNING")
    about, reason, submit_id = d.get("op"), d.get("reason"), d.get("id")
    if not isinstance(about, int) or about not in _DECODERS or not isinstance(reason, str):
        raise MalformedFrame("WARNING needs d.op and d.reason")
    if not isinstance(submit_id, int) or isinstance(submit_id, bool):
        submit_id = None
    return WarningFrame(Op(about), reason, submit_id)


def _dispatch(obj: dict[str, Any]) -> Dispatch:
    uid, seq, t = obj.get("uid"), obj.get("seq"), obj.get("t")
    if not isinstance(uid, str) or not isinstance(seq, int) or not isinstance(t, str):
        raise MalformedFrame("DISPATCH needs uid, seq and t")
    d = _d(obj, "DISPATCH")
    trimmed = obj.get("trimmed")
    trimmed = trimmed if isinstance(trimmed, int) and not isinstance(trimmed, bool) else None
    return Dispatch(Payload("", seq, uid, t, d, obj.get("synthetic") is True), trimmed)


Decoder = Callable[[dict[str, Any]], Frame]
Decoders = Mapping[int, Decoder]
_DECODERS: dict[int, Decoder] = {
    Op.HEARTBEAT: lambda obj: Heartbeat(),
    Op.HEARTBEAT_ACK: lambda obj: HeartbeatAck(),
    Op.HELLO: lambda obj: _structure(_d(obj, "HELLO"), Hello, "HELLO"),
    Op.IDENTIFY: _identify,
    Op.READY: _ready,
    Op.DISPATCH: _dispatch,
    Op.SUBMIT: _submit,
    Op.REPLAY: _replay,
    Op.STATUS: _status,
    Op.SUBMIT_ACK: lambda obj: _structure(_d(obj, "SUBMIT_ACK"), SubmitAck, "SUBMIT_ACK"),
    Op.WARNING: _warning,
}


_FROM_BROKER = (Op.HEARTBEAT_ACK, Op.HELLO, Op.READY, Op.DISPATCH, Op.SUBMIT_ACK, Op.WARNING)


def _sent_by_the_broker(obj: dict[str, Any]) -> Frame:
    raise UnknownOpcode(f"op {obj['op']} is sent by the broker, never to it")


# What the broker decodes: an op only the broker sends closes with 4004 whatever its fields say
# (it used to be decoded first, so one without its fields closed with 1003).
FROM_CLIENTS: Decoders = {
    **_DECODERS, **{op: _sent_by_the_broker for op in _FROM_BROKER}
}


# Encoding ------------------------------------------------------------------------------------


def encode(frame: Frame) -> str:
    """One frame to its wire text."""
    if isinstance(frame, Dispatch):
        return encode_dispatch(frame.payload)
    body: dict[str, Any] = {"op": int(frame.op)}
    if isinstance(frame, Hello):
        body["d"] = {"heartbeat_interval": frame.heartbeat_interval}
    elif isinstance(frame, Identify):
        d: dict[str, Any] = {"token": frame.token, "type": int(frame.role)}
        if frame.source is not None:
            d["source"] = frame.source
        if frame.ack:
            d["ack"] = True
        if frame.extensions:
            d["extensions"] = True
        body["d"] = d
    elif isinstance(frame, Ready):
        if frame.seq is not None:
            body["d"] = {"seq": frame.seq}
    elif isinstance(frame, WarningFrame):
        warning: dict[str, Any] = {"op": int(frame.about), "reason": frame.reason}
        if frame.submit_id is not None:
            warning["id"] = frame.submit_id
        body["d"] = warning
    elif isinstance(frame, Submit):
        body["t"] = frame.t
        body["d"] = frame.d
        if frame.id is not None:
            body["id"] = frame.id
    elif isinstance(frame, Replay):
        body["d"] = {"after": frame.range.after, "before": frame.range.before}
    elif isinstance(frame, Status):
        body["d"] = {k: v for k, v in _converter.unstructure(frame).items() if v is not None}
    elif isinstance(frame, SubmitAck):
        body["d"] = {"upto": frame.upto}
    return orjson.dumps(body).decode()


def submit_ack(upto: int) -> str:
    """``encode(SubmitAck(upto))``, without the frame object (one per producer receive)."""
    return f'{{"op":{int(Op.SUBMIT_ACK)},"d":{{"upto":{int(upto)}}}}}'


def encode_dispatch(payload: Payload) -> str:
    """A DISPATCH frame, in one orjson call (the fan-out encodes one per payload)."""
    body: dict[str, Any] = {"op": 5, "uid": payload.uid, "seq": payload.seq, "t": payload.t}
    if payload.synthetic:
        body["synthetic"] = True
    body["d"] = payload.d
    return orjson.dumps(body).decode()
