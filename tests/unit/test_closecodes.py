"""Close codes: the protocol's table, and what a client should do after each."""

from __future__ import annotations

from wearstream.domain.closecodes import Advice, CloseCode, close_rule
from wearstream.domain.errors import (
    InvalidReading,
    MalformedFrame,
    ProtocolError,
    ReplayRangeError,
    UnknownOpcode,
)


def test_the_table_of_the_protocol() -> None:
    assert {int(c) for c in CloseCode} == {
        1000, 1001, 1002, 1003, 1007, 1009, 1011, 1013, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4009
    }
    for code in CloseCode:  # every row says what it means and what to do
        assert code.meaning and code.todo and isinstance(code.advice, Advice)


def test_who_reconnects() -> None:
    retry = {c for c in CloseCode if c.client_should_retry}
    assert retry == {CloseCode.NORMAL, CloseCode.GOING_AWAY, CloseCode.INTERNAL_ERROR,
                     CloseCode.INVALID_TOKEN, CloseCode.HEARTBEAT_TIMEOUT, CloseCode.TRY_AGAIN_LATER,
                     CloseCode.SLOW_CONSUMER}
    assert [c for c in CloseCode if c.needs_fresh_token] == [CloseCode.INVALID_TOKEN]
    assert not CloseCode.MESSAGE_TOO_BIG.client_should_retry


def test_codes_outside_the_table_are_retried() -> None:
    for code in (None, 1006, 1012, 4999):
        assert close_rule(code).advice is Advice.RETRY
    assert close_rule(4002) == close_rule(CloseCode.CONSUMER_CAP)
    assert "--max-consumers" in close_rule(4002).todo


def test_errors_carry_their_close_code() -> None:
    assert MalformedFrame("x").code == 1003
    assert InvalidReading("x").code == 1003
    assert ReplayRangeError("x").code == 1003
    assert UnknownOpcode("x").code == 4004
    e = ProtocolError("why", CloseCode.CONSUMER_CAP)
    assert (e.code, e.reason, str(e)) == (4002, "why", "why")
