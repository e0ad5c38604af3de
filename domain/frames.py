"""The frames of the streaming protocol as plain values (no JSON here: that is the codec's job).

Extensions (ours, see docs/protocol.md) ride on fields a plain Terra client never sends, so a
client that does not use them never sees them.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from .identity import Role
from .stream import Payload, ReplayRange


class Op(enum.IntEnum):
    HEARTBEAT = 0
    HEARTBEAT_ACK = 1
    HELLO = 2
    IDENTIFY = 3
    READY = 4
    DISPATCH = 5
    SUBMIT = 6
    REPLAY = 7
    STATUS = 8
    SUBMIT_ACK = 9  # extension: sent only to producers that asked for acks in IDENTIFY
    PRESENCE = 10  # extension: sent only to dashboards (adapters/websocket/dashboard.py)
    WARNING = 11  # extension: sent only to clients that opted in with "extensions" in IDENTIFY


@attrs.frozen
class Heartbeat:
    op = Op.HEARTBEAT


@attrs.frozen
class HeartbeatAck:
    op = Op.HEARTBEAT_ACK


@attrs.frozen
class Hello:
    heartbeat_interval: int  # milliseconds
    op = Op.HELLO


@attrs.frozen
class Identify:
    """``source`` and ``ack`` are the acknowledged-submit extension (producers only);
    ``extensions`` opts in to the rest: WARNING frames, and data types beyond Terra's list."""

    token: str
    role: Role
    source: str | None = None
    ack: bool = False
    extensions: bool = False
    op = Op.IDENTIFY


@attrs.frozen
class Ready:
    """``seq`` (extension, consumers): the developer's latest dispatched seq at READY, so that a
    consumer can replay up to it at once instead of waiting for a live payload."""

    seq: int | None = None
    op = Op.READY


@attrs.frozen
class Dispatch:
    """``trimmed`` (extension): on the first DISPATCH of a REPLAY that reached into what retention
    removed, the highest seq that is gone."""

    payload: Payload
    trimmed: int | None = None
    op = Op.DISPATCH


# Not frozen, unlike its neighbours: one is made per reading, and attrs' frozen __init__ costs
# 2-3 times as much (docs/benchmarks.md, "Fewer instructions per reading"). Nothing assigns to one.
@attrs.define
class Submit:
    """``d`` is the reading object exactly as sent; ``id`` is the idempotency extension: a
    counter that grows per producer ``source`` (named in IDENTIFY)."""

    t: str
    d: dict[str, Any]
    id: int | None = None
    op = Op.SUBMIT


@attrs.frozen
class Replay:
    range: ReplayRange
    op = Op.REPLAY


@attrs.frozen
class Status:
    connected: bool
    device_id: str | None = None
    source: str | None = None
    reason: str | None = None
    op = Op.STATUS


@attrs.frozen
class Invalid:
    """A SUBMIT, REPLAY or STATUS whose envelope parsed but whose content did not: dropped
    without closing (docs/protocol.md). ``submit_id`` is a SUBMIT's usable ``id``, if any."""

    op: Op
    reason: str
    submit_id: int | None = None


@attrs.frozen
class WarningFrame:
    """Extension: why the broker dropped a frame (``op``; ``id``: the SUBMIT's id, if any)."""

    about: Op
    reason: str
    submit_id: int | None = None
    op = Op.WARNING


@attrs.frozen
class SubmitAck:
    """Extension: every SUBMIT with an id up to ``upto`` on this connection is stored durably."""

    upto: int
    op = Op.SUBMIT_ACK


Frame = (
    Heartbeat | HeartbeatAck | Hello | Identify | Ready | Dispatch | Submit | Replay | Status
    | Invalid | SubmitAck | WarningFrame
)
