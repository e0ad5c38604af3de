"""The sans-I/O session machine: events in, actions out, no clock and no socket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.closecodes import CloseCode
from wearstream.domain.errors import MalformedFrame, UnknownOpcode
from wearstream.domain.frames import (
    Dispatch,
    Frame,
    Heartbeat,
    HeartbeatAck,
    Hello,
    Identify,
    Invalid,
    Op,
    WarningFrame,
    Ready,
    Replay,
    Status,
    Submit,
    SubmitAck,
)
from wearstream.domain.identity import Role
from wearstream.domain.session import (
    Authenticate,
    Close,
    Dropped,
    Principal,
    Publish,
    Send,
    ServerSession,
    SessionConfig,
    StartReplay,
    State,
    UpdatePresence,
)
from wearstream.domain.stream import Payload, ReplayRange, SubmitKey

TS = "2022-05-04T10:26:11.268507+01:00"
CONFIG = SessionConfig(identify_timeout=15.0, heartbeat_interval_ms=40_000, heartbeat_grace=1.5)
PRODUCER = Principal(Role.PRODUCER, "dev-1", "alice")
CONSUMER = Principal(Role.CONSUMER, "dev-1")

# One frame of every kind a client could send, other than HEARTBEAT and IDENTIFY.
OTHER_FRAMES: list[Frame] = [
    HeartbeatAck(),
    Hello(40_000),
    Ready(),
    Dispatch(Payload("", 1, "u", "HEART_RATE", {"val": 1})),
    Submit("HEART_RATE", {"ts": TS, "val": 60}),
    Replay(ReplayRange(0, 10)),
    Status(True, "dev", "ble"),
    Invalid(Op.STATUS, "STATUS needs d.connected"),
    SubmitAck(3),
]
other_frames = st.sampled_from(OTHER_FRAMES)
times = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def close_of(actions: list) -> Close:
    assert len(actions) == 1 and isinstance(actions[0], Close), actions
    assert actions[0].reason.strip(), "every close carries a reason"
    return actions[0]


def ready_session(principal: Principal, now: float = 0.0, **extra: object) -> ServerSession:
    session = ServerSession(CONFIG)
    session.connected(now)
    assert session.received(Identify("tok", principal.role, **extra), now) == [  # type: ignore[arg-type]
        Authenticate("tok", principal.role)
    ]
    assert session.identified(principal) == [Send(Ready())]
    assert session.state is State.READY
    return session


def test_connect_says_hello_with_the_interval() -> None:
    assert ServerSession(CONFIG).connected(0.0) == [Send(Hello(40_000))]


def test_heartbeats_are_acked_in_every_live_state() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    assert s.received(Heartbeat(), 1) == [Send(HeartbeatAck())]
    s.received(Identify("t", Role.CONSUMER), 2)
    assert s.received(Heartbeat(), 3) == [Send(HeartbeatAck())]  # while authenticating
    s.identified(CONSUMER)
    assert s.received(Heartbeat(), 4) == [Send(HeartbeatAck())]


@given(frame=other_frames, before_identify=st.booleans())
def test_every_other_op_before_ready_closes_4004(frame: Frame, before_identify: bool) -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    if not before_identify:
        s.received(Identify("t", Role.PRODUCER), 0)
        assert s.state is State.AUTHENTICATING
    assert close_of(s.received(frame, 1)).code is CloseCode.INVALID_OPCODE
    assert s.state is State.CLOSED


@given(role=st.sampled_from(Role), authenticated=st.booleans())
def test_a_second_identify_closes_4003(role: Role, authenticated: bool) -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    s.received(Identify("t", role), 0)
    if authenticated:
        s.identified(PRODUCER if role is Role.PRODUCER else CONSUMER)
    assert close_of(s.received(Identify("t2", role), 1)).code is CloseCode.ALREADY_IDENTIFIED


@pytest.mark.parametrize(
    "frame", [Submit("HEART_RATE", {"ts": TS, "val": 60}), Status(True), Invalid(Op.STATUS, "bad")]
)
def test_submit_and_status_from_a_consumer_close_4004(frame: Frame) -> None:
    s = ready_session(CONSUMER)
    close = close_of(s.received(frame, 1))
    assert close.code is CloseCode.INVALID_OPCODE
    assert "consumer" in close.reason


def test_replay_from_a_producer_closes_4004() -> None:
    s = ready_session(PRODUCER)
    close = close_of(s.received(Replay(ReplayRange(1, 5)), 1))
    assert close.code is CloseCode.INVALID_OPCODE
    assert "producer" in close.reason


@pytest.mark.parametrize("frame", [HeartbeatAck(), Hello(1), Ready(), SubmitAck(1),
                                   Dispatch(Payload("", 1, "u", "X", {"val": 1}))])
@pytest.mark.parametrize("principal", [PRODUCER, CONSUMER])
def test_server_frames_from_a_client_close_4004(frame: Frame, principal: Principal) -> None:
    assert close_of(ready_session(principal).received(frame, 1)).code is CloseCode.INVALID_OPCODE


def test_a_consumer_replays_its_own_developers_stream() -> None:
    s = ready_session(CONSUMER)
    assert s.received(Replay(ReplayRange(28, 43)), 1) == [StartReplay("dev-1", ReplayRange(28, 43))]


def test_a_producer_submit_is_published_for_its_user() -> None:
    s = ready_session(PRODUCER)
    d = {"ts": TS, "val": 61}
    assert s.received(Submit("RUNNING_HEART_RATE", d), 1) == [
        Publish("dev-1", "alice", "RUNNING_HEART_RATE", d, None, False)
    ]


def test_a_submit_without_ts_needs_a_timestamp() -> None:
    s = ready_session(PRODUCER)
    [publish] = s.received(Submit("HEART_RATE", {"val": 61}), 1)
    assert isinstance(publish, Publish) and publish.needs_timestamp


def test_an_idempotent_submit_carries_its_key_only_with_a_source() -> None:
    s = ready_session(PRODUCER, source="outbox-1", ack=True)
    assert s.wants_acks and s.source == "outbox-1"
    [publish] = s.received(Submit("HEART_RATE", {"val": 1}, id=5), 1)
    assert isinstance(publish, Publish) and publish.key == SubmitKey("outbox-1", 5)
    plain = ready_session(PRODUCER)
    [publish] = plain.received(Submit("HEART_RATE", {"val": 1}, id=5), 1)
    assert isinstance(publish, Publish) and publish.key is None


@pytest.mark.parametrize(
    "d", [{"val": 1, "d": [1]}, {"val": float("nan")}, {"d": [1.0]}, {"ts": "nope", "val": 1}, {}]
)
def test_a_bad_reading_is_dropped_and_the_producer_stays(d: dict) -> None:
    s = ready_session(PRODUCER)
    [dropped] = s.received(Submit("HEART_RATE", d), 1)
    assert isinstance(dropped, Dropped) and dropped.op is Op.SUBMIT and dropped.reason
    assert s.state is State.READY


@pytest.mark.parametrize(
    "d",
    [
        {"ts": "0001-01-01T00:00:00+23:59", "val": 1},  # no UTC year for it
        {"ts": "2022-05-04T10:26:11", "val": 1},  # no offset
        {"ts": TS, "val": None},
        {"ts": TS, "val": "61"},
        {"ts": TS, "val": 2**63},
        {"ts": TS, "val": 1.8446744073709552e19},  # what orjson makes of 2**64
        {"ts": TS, "val": 1, "x": {"y": {"z": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}}},
    ],
)
def test_readings_no_store_could_write_back_are_dropped(d: dict) -> None:
    s = ready_session(PRODUCER, source="outbox-1", ack=True)
    [dropped] = s.received(Submit("HEART_RATE", d, id=9), 1)
    assert dropped == Dropped(Op.SUBMIT, dropped.reason, SubmitKey("outbox-1", 9))


def test_a_dropped_frame_is_answered_with_a_warning_only_to_clients_that_opted_in() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    s.received(Identify("t", Role.PRODUCER, extensions=True), 0)
    s.identified(PRODUCER)
    actions = s.received(Submit("ACCELERATION", {"ts": TS, "d": [1, 2]}, id=4), 1)
    assert isinstance(actions[0], Dropped)
    assert actions[1] == Send(WarningFrame(Op.SUBMIT, actions[0].reason, 4))
    plain = ready_session(CONSUMER)
    assert [type(a) for a in plain.received(Invalid(Op.REPLAY, "REPLAY without d.before"), 1)] == [
        Dropped
    ]


def test_ready_carries_the_latest_seq_it_is_given() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    s.received(Identify("t", Role.CONSUMER), 0)
    assert s.identified(CONSUMER, 41) == [Send(Ready(41))]


def test_status_updates_presence_and_a_malformed_one_is_dropped() -> None:
    s = ready_session(PRODUCER)
    status = Status(False, "hrm-1", "ble", "link lost")
    assert s.received(status, 1) == [UpdatePresence("dev-1", "alice", status)]
    assert s.received(Invalid(Op.STATUS, "STATUS needs d.connected"), 2) == [
        Dropped(Op.STATUS, "STATUS needs d.connected")
    ]
    assert s.state is State.READY  # still open


@given(start=times, early=st.floats(min_value=0, max_value=14.999))
def test_identify_deadline_closes_4000(start: float, early: float) -> None:
    s = ServerSession(CONFIG)
    s.connected(start)
    assert s.deadline() == start + 15.0
    assert s.tick(start + early) == []
    assert close_of(s.tick(start + 15.0)).code is CloseCode.IDENTIFY_TIMEOUT
    assert s.tick(start + 100) == []  # closed once


def test_heartbeats_do_not_extend_the_identify_deadline() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    for t in range(1, 15):
        s.received(Heartbeat(), t)
    assert close_of(s.tick(15)).code is CloseCode.IDENTIFY_TIMEOUT


def test_no_identify_deadline_once_identified() -> None:
    s = ready_session(CONSUMER)
    assert s.tick(16) == []
    assert s.deadline() == CONFIG.heartbeat_window


@given(beats=st.lists(st.floats(min_value=0.001, max_value=59.9), min_size=1, max_size=20))
def test_heartbeat_window_closes_4005(beats: list[float]) -> None:
    s = ready_session(PRODUCER)
    window = CONFIG.heartbeat_window
    assert window == 60.0
    now = 0.0
    for gap in beats:  # every heartbeat within the window keeps the session alive
        assert s.tick(now + gap) == []
        now += gap
        s.received(Heartbeat(), now)
        assert s.deadline() == now + window
    assert close_of(s.tick(now + window)).code is CloseCode.HEARTBEAT_TIMEOUT
    assert s.received(Heartbeat(), now + window) == []  # nothing after close


def test_heartbeat_window_also_runs_before_identify() -> None:
    config = SessionConfig(identify_timeout=100, heartbeat_interval_ms=1000)
    s = ServerSession(config)
    s.connected(0)
    assert s.deadline() == 1.5
    assert close_of(s.tick(1.5)).code is CloseCode.HEARTBEAT_TIMEOUT


def test_a_rejected_token_closes_with_the_given_code() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    s.received(Identify("bad", Role.PRODUCER), 0)
    assert close_of(s.rejected(CloseCode.INVALID_TOKEN, "token expired")) == Close(
        CloseCode.INVALID_TOKEN, "token expired"
    )
    assert s.identified(PRODUCER) == []  # a late answer changes nothing
    assert s.state is State.CLOSED


def test_identified_without_identify_is_ignored() -> None:
    s = ServerSession(CONFIG)
    s.connected(0)
    assert s.identified(PRODUCER) == []
    assert s.state is State.AWAITING_IDENTIFY


@pytest.mark.parametrize("error", [MalformedFrame("not JSON"), UnknownOpcode("unknown op 42")])
def test_codec_failures_close_with_their_code(error: MalformedFrame) -> None:
    s = ready_session(CONSUMER)
    assert s.failed(error) == [Close(error.code, error.reason)]
    assert s.received(Heartbeat(), 1) == []


@given(frames=st.lists(st.sampled_from(OTHER_FRAMES + [Heartbeat(), Identify("t", Role.CONSUMER)]),
                       max_size=10),
       principal=st.sampled_from([PRODUCER, CONSUMER]))
def test_at_most_one_close_and_nothing_after_it(frames: list[Frame], principal: Principal) -> None:
    s = ServerSession(CONFIG)
    actions = s.connected(0)
    for i, frame in enumerate(frames):
        actions += s.received(frame, i)
        if any(isinstance(a, Authenticate) for a in actions) and s.state is State.AUTHENTICATING:
            actions += s.identified(principal)
        actions += s.tick(i)
    closes = [a for a in actions if isinstance(a, Close)]
    assert len(closes) <= 1
    if closes:
        assert actions[-1] is closes[0]
        assert s.state is State.CLOSED
