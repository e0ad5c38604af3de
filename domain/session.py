"""The broker side of one protocol session, as a sans-I/O state machine.

In the manner of h11 and wsproto: the adapter feeds events (connected, frame received, identity
checked, time passed) and carries out the actions returned (send a frame, publish a reading,
replay a range, close with a code and reason). No clock, no socket, no store: the same machine
serves the broker, a test and a fuzzer alike.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from .closecodes import CloseCode
from .errors import ProtocolError
from .frames import (
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
    WarningFrame,
)
from .identity import Role
from .readings import validate_reading
from .stream import ReplayRange, SubmitKey


class State(enum.Enum):
    AWAITING_IDENTIFY = "awaiting-identify"
    AUTHENTICATING = "authenticating"
    READY = "ready"
    CLOSED = "closed"


# What every frame is checked against, as plain names: on Python 3.11 each lookup of a member
# through its Enum class (``State.READY``) takes EnumType.__getattr__'s slow path (about ten
# times a name's cost; gone in 3.12), and received() runs for every reading.
_READY, _CLOSED, _PRODUCER = State.READY, State.CLOSED, Role.PRODUCER


@attrs.frozen
class SessionConfig:
    identify_timeout: float = 15.0  # seconds
    heartbeat_interval_ms: int = 40_000
    # A client heartbeats at most once per interval (the first after interval × jitter), so a
    # silence longer than interval × grace means it is gone.
    heartbeat_grace: float = 1.5  # --heartbeat-grace

    @property
    def heartbeat_window(self) -> float:
        return self.heartbeat_interval_ms / 1000 * self.heartbeat_grace


@attrs.frozen
class Principal:
    """Who a session belongs to once its token has been checked."""

    role: Role
    developer_id: str
    user_id: str | None = None


# Actions -------------------------------------------------------------------------------------


@attrs.frozen
class Send:
    frame: Frame


@attrs.frozen
class Close:
    code: CloseCode
    reason: str


@attrs.frozen
class Authenticate:
    """Check and consume ``token`` for ``role``; answer with identified() or rejected()."""

    token: str
    role: Role


# Not frozen, unlike its neighbours: one is made per reading, and attrs' frozen __init__ costs
# 2-3 times as much (docs/benchmarks.md, "Fewer instructions per reading"). Nothing assigns to one.
@attrs.define
class Publish:
    """Append a reading to the developer's stream and dispatch it; ``d`` may lack ``ts``."""

    developer_id: str
    user_id: str
    t: str
    d: dict[str, Any]
    key: SubmitKey | None
    needs_timestamp: bool


@attrs.frozen
class StartReplay:
    developer_id: str
    range: ReplayRange


@attrs.frozen
class UpdatePresence:
    developer_id: str
    user_id: str
    status: Status


@attrs.frozen
class Dropped:
    """A frame dropped without closing (a malformed SUBMIT, REPLAY or STATUS): counted and
    logged. ``key``: a dropped SUBMIT's idempotency key, acknowledged in turn like a stored one
    (it will never be stored, and an acknowledged producer must not resend it forever)."""

    op: Op
    reason: str
    key: SubmitKey | None = None


Action = Send | Close | Authenticate | Publish | StartReplay | UpdatePresence | Dropped


@attrs.define
class ServerSession:
    config: SessionConfig = attrs.field(factory=SessionConfig)
    state: State = State.AWAITING_IDENTIFY
    principal: Principal | None = None
    source: str | None = None  # the producer's idempotency source (extension)
    wants_acks: bool = False
    extensions: bool = False  # opted in to WARNING frames and extension data types
    _identify_deadline: float = 0.0
    _heartbeat_deadline: float = 0.0

    # Events ----------------------------------------------------------------------------------

    def connected(self, now: float) -> list[Action]:
        self._identify_deadline = now + self.config.identify_timeout
        self._heartbeat_deadline = now + self.config.heartbeat_window
        return [Send(Hello(self.config.heartbeat_interval_ms))]

    def received(self, frame: Frame, now: float) -> list[Action]:
        if self.state is _CLOSED:
            return []
        if isinstance(frame, Heartbeat):
            self._heartbeat_deadline = now + self.config.heartbeat_window
            return [Send(HeartbeatAck())]
        if isinstance(frame, Identify):
            return self._identify(frame)
        if self.state is not _READY:
            return self._close(
                CloseCode.INVALID_OPCODE, f"op {int(frame.op)} before READY: IDENTIFY first"
            )
        return self._ready_frame(frame)

    def failed(self, error: ProtocolError) -> list[Action]:
        """A frame the codec could not decode."""
        return self._close(error.code, error.reason)

    def identified(self, principal: Principal, latest_seq: int | None = None) -> list[Action]:
        """The token was good; ``latest_seq`` (consumers) goes into READY as an extension."""
        if self.state is not State.AUTHENTICATING:
            return []
        self.state = State.READY
        self.principal = principal
        if principal.role is Role.DASHBOARD:
            self.extensions = True  # the dashboard is ours: it shows every type
        return [Send(Ready(latest_seq))]

    def rejected(self, code: CloseCode, reason: str) -> list[Action]:
        return self._close(code, reason)

    def deadline(self) -> float:
        """The monotonic time at which tick() must next be called."""
        if self.state is State.AWAITING_IDENTIFY:
            return min(self._identify_deadline, self._heartbeat_deadline)
        return self._heartbeat_deadline

    def tick(self, now: float) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        if self.state is State.AWAITING_IDENTIFY and now >= self._identify_deadline:
            timeout = self.config.identify_timeout
            return self._close(CloseCode.IDENTIFY_TIMEOUT, f"no IDENTIFY within {timeout:g} s")
        if now >= self._heartbeat_deadline:
            window = self.config.heartbeat_window
            return self._close(CloseCode.HEARTBEAT_TIMEOUT, f"no heartbeat within {window:g} s")
        return []

    # Rules -----------------------------------------------------------------------------------

    def _identify(self, frame: Identify) -> list[Action]:
        if self.state is not State.AWAITING_IDENTIFY:
            return self._close(CloseCode.ALREADY_IDENTIFIED, "already identified")
        self.state = State.AUTHENTICATING
        self.extensions = frame.extensions
        if frame.role is Role.PRODUCER:
            self.source = frame.source
            self.wants_acks = frame.ack
        return [Authenticate(frame.token, frame.role)]

    def _ready_frame(self, frame: Frame) -> list[Action]:
        principal = self.principal
        assert principal is not None
        producer = principal.role is _PRODUCER
        if isinstance(frame, Submit) and producer:
            return self._submit(principal, frame)
        if isinstance(frame, Status) and producer:
            assert principal.user_id is not None
            return [UpdatePresence(principal.developer_id, principal.user_id, frame)]
        consumer = principal.role is Role.CONSUMER
        if isinstance(frame, Invalid) and (producer if frame.op is not Op.REPLAY else consumer):
            return self._drop(frame.op, frame.reason, frame.submit_id)
        if isinstance(frame, Replay) and consumer:
            return [StartReplay(principal.developer_id, frame.range)]
        # A dashboard (extension) only watches: no SUBMIT, no STATUS, and no REPLAY either, so a
        # browser tab can never make the broker read the log.
        role = principal.role.name.lower()
        return self._close(CloseCode.INVALID_OPCODE, f"op {int(frame.op)} is not valid for a {role}")

    def _submit(self, principal: Principal, frame: Submit) -> list[Action]:
        try:
            ts = validate_reading(frame.t, frame.d)
        except ProtocolError as error:
            return self._drop(Op.SUBMIT, error.reason, frame.id)
        key = self._key(frame.id)
        assert principal.user_id is not None
        return [
            Publish(principal.developer_id, principal.user_id, frame.t, frame.d, key, ts is None)
        ]

    def _key(self, submit_id: int | None) -> SubmitKey | None:
        if submit_id is None or self.source is None:
            return None
        return SubmitKey(self.source, submit_id)

    def _drop(self, op: Op, reason: str, submit_id: int | None = None) -> list[Action]:
        """Drop a frame, keep the connection: a WARNING for clients that opted in."""
        actions: list[Action] = [Dropped(op, reason, self._key(submit_id) if op is Op.SUBMIT else None)]
        if self.extensions:
            actions.append(Send(WarningFrame(op, reason, submit_id)))
        return actions

    def _close(self, code: CloseCode, reason: str) -> list[Action]:
        self.state = State.CLOSED
        return [Close(code, reason)]
