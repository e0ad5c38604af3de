"""The producer's pure decisions: the in-flight window, heartbeats, closes, the status line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.terminal.status_lines import format_value, status_line
from wearstream.domain.devices import DeviceStatus
from wearstream.domain.heartbeats import Heartbeats
from wearstream.domain.producer import (
    BrokerMisbehaved,
    DeviceView,
    InFlight,
    foreign_user,
)
from wearstream.domain.samples import Sample

from .conftest import T0, hr


def test_the_window_bounds_what_is_in_flight() -> None:
    window = InFlight(3)
    for i in (1, 2, 3):
        window.sent(i)
    assert window.room == 0 and window.cursor == 3
    with pytest.raises(ValueError, match="full"):
        window.sent(4)
    assert window.ack(2) and window.room == 2 and window.acked == 2
    assert not window.ack(1)  # stale
    assert not window.ack(2)  # repeated


def test_an_ack_beyond_what_was_sent_is_the_broker_misbehaving() -> None:
    window = InFlight(5)
    window.sent(1)
    with pytest.raises(BrokerMisbehaved):
        window.ack(2)
    assert window.acked == -1


def test_rewind_resends_from_the_last_ack() -> None:
    window = InFlight(5)
    for i in (1, 2, 3):
        window.sent(i)
    window.ack(1)
    window.rewind()
    assert window.cursor == 1 and window.room == 5
    window.sent(2)  # sent again after the reconnect


def test_ids_must_grow() -> None:
    window = InFlight(5)
    window.sent(4)
    with pytest.raises(ValueError, match="out of order"):
        window.sent(4)
    with pytest.raises(ValueError):
        InFlight(0)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), max_size=40))
def test_acked_never_passes_what_was_sent_and_never_goes_back(steps: list[tuple[bool, int]]) -> None:
    window, next_id, acked = InFlight(4), 1, -1
    for send, n in steps:
        if send:
            while window.room and n:
                window.sent(next_id)
                next_id, n = next_id + 1, n - 1
        elif window.in_flight:
            upto = min(window.cursor, window.acked + 1 + n)
            window.ack(upto)
        assert acked <= window.acked <= window.cursor < next_id
        acked = window.acked


def test_heartbeats_need_an_ack_before_the_next_one() -> None:
    beats = Heartbeats.start(100.0, 40.0, 0.25)
    assert beats.next_at == 110.0
    assert beats.beat(110.0) and beats.next_at == 150.0
    beats.acked()
    assert beats.beat(150.0)
    assert not beats.beat(190.0)  # no ack for the last one: the link is dead


def test_the_status_line_shows_presence_value_rate_battery_and_depth() -> None:
    view = DeviceView("sim:hr-strap")
    view.status(DeviceStatus("sim:hr-strap", True, "sim", battery=87))
    for n in range(10):
        view.sample(hr(n), 100.0 + n * 0.1)
    line = status_line(view, 101.0, 42)
    assert "connected" in line and "HEART_RATE=69" in line and "10.0/s" in line
    assert "batt 87%" in line and "outbox 42" in line
    assert view.rate(200.0) == 0.0
    view.status(DeviceStatus("sim:hr-strap", False, "sim", reason="out of range"))
    assert "disconnected" in status_line(view, 200.0, 0) and "(out of range)" in status_line(view, 200.0, 0)


def test_vector_values_are_shortened() -> None:
    sample = Sample("ECG", T0, tuple(float(i) for i in range(10)))
    assert format_value(sample) == "ECG=[0,1,2,…]"
    assert format_value(None) == "-"


def test_an_outbox_belongs_to_one_user() -> None:
    assert foreign_user(["u1", "u1"], "u1") is None
    assert foreign_user(["u1", "u2"], "u1") == "u2"
