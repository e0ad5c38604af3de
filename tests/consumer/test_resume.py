"""The consumer's pure decisions: gap replay with a fence, duplicates, bounded buffer, fan-out shares."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.consumer import (
    Phase,
    Resume,
    resume_cursor,
    share_for_sink,
)
from wearstream.domain.stream import Payload, ReplayRange
from wearstream.domain.subscriptions import Subscription


def p(seq: int, uid: str = "u1", t: str = "HEART_RATE") -> Payload:
    return Payload("dev", seq, uid, t, {"ts": "2022-05-04T10:26:11+00:00", "val": seq})


def seqs(step) -> list[int]:  # type: ignore[no-untyped-def]
    return [x.seq for x in step.deliver]


def test_no_gap_goes_live_without_replay() -> None:
    r = Resume(cursor=4)
    step = r.received(p(5))
    assert step.replays == () and seqs(step) == [5]
    assert r.phase is Phase.LIVE and r.cursor == 5


def test_gap_asks_for_replay_before_first_live_then_a_fence() -> None:
    r = Resume(cursor=28)
    step = r.received(p(43))
    assert step.replays == (ReplayRange(28, 43), ReplayRange(42, 44))
    assert step.deliver == ()
    assert seqs(r.received(p(44))) == []  # live, held back
    assert seqs(r.received(p(44))) == []  # a duplicate
    assert seqs(r.received(p(29))) == [29]  # replayed
    assert seqs(r.received(p(42))) == [42]  # replay has a gap: 30-41 do not exist
    assert seqs(r.received(p(43))) == [43, 44]  # the fence: replay complete
    assert r.phase is Phase.LIVE and r.cursor == 44
    assert seqs(r.received(p(45))) == [45]


def test_ready_with_the_latest_seq_opens_the_gap_at_once() -> None:
    r = Resume(cursor=5)
    assert r.ready(20) == (ReplayRange(5, 20), ReplayRange(19, 21))
    assert r.phase is Phase.REPLAYING
    assert seqs(r.received(p(21))) == []  # live, held until the fence
    for seq in range(6, 20):
        assert seqs(r.received(p(seq))) == [seq]
    assert seqs(r.received(p(20))) == [20, 21]
    assert r.phase is Phase.LIVE and r.cursor == 21


def test_ready_without_news_changes_nothing() -> None:
    for latest in (None, 0, 5):
        r = Resume(cursor=5)
        assert r.ready(latest) == () and r.phase is Phase.AWAITING_LIVE


def test_empty_replay_is_ended_by_the_fence() -> None:
    r = Resume(cursor=10)
    r.received(p(20))
    assert seqs(r.received(p(20))) == [20]
    assert r.cursor == 20


def test_duplicates_are_dropped_and_counted() -> None:
    r = Resume(cursor=10)
    assert seqs(r.received(p(3))) == []
    assert seqs(r.received(p(11))) == [11]
    assert seqs(r.received(p(11))) == []
    assert r.duplicates == 2


def test_live_numbering_gaps_need_no_replay_once_live() -> None:
    r = Resume(cursor=0)
    r.received(p(1))
    step = r.received(p(5))
    assert step.replays == () and seqs(step) == [5]


def test_reconnect_resets_phase_and_drops_held_payloads() -> None:
    r = Resume(cursor=1)
    r.received(p(10))  # gap: replaying, 10 held
    r.connected()
    assert r.phase is Phase.AWAITING_LIVE and r.cursor == 1
    step = r.received(p(12))
    assert step.replays[0] == ReplayRange(1, 12)


def test_full_buffer_drops_live_and_replays_them_after_the_fence() -> None:
    r = Resume(cursor=0, buffer_limit=2)
    r.received(p(5))
    r.received(p(6))
    r.received(p(7))
    r.received(p(8))  # dropped: buffer full (6, 7)
    r.received(p(9))  # dropped
    assert seqs(r.received(p(1))) == [1]
    step = r.received(p(5))  # fence
    assert seqs(step) == [5, 6, 7]
    assert step.replays == (ReplayRange(7, 9), ReplayRange(8, 10))
    assert r.phase is Phase.REPLAYING
    assert seqs(r.received(p(10))) == []  # live, held
    assert seqs(r.received(p(8))) == [8]
    assert seqs(r.received(p(9))) == [9, 10]


@given(
    log=st.sets(st.integers(1, 60), min_size=1).map(sorted),
    cursor=st.integers(0, 60),
    limit=st.integers(1, 8),
    data=st.data(),
)
def test_every_payload_above_the_cursor_exactly_once_in_order(
    log: list[int], cursor: int, limit: int, data: st.DataObject
) -> None:
    """This broker's behaviour: live frames in order, from some point of the log on; each REPLAY
    is served whole, in the order asked, clamped to what is dispatched; live frames may come
    between replays. Whatever the interleaving, the consumer passes on exactly the log above its
    cursor, in order. (The numbering of the log has gaps.)"""
    live = log[data.draw(st.integers(0, len(log) - 1)) :]
    dispatched = 0
    r = Resume(cursor=cursor, buffer_limit=limit)
    delivered: list[int] = []
    replays: list[ReplayRange] = []
    while live or replays:
        if replays and (not live or data.draw(st.booleans())):
            rng = replays.pop(0)
            frames = [s for s in log if s in rng and s <= dispatched]
        else:
            dispatched = live.pop(0)
            frames = [dispatched]
        for seq in frames:
            step = r.received(p(seq))
            replays.extend(step.replays)
            delivered.extend(x.seq for x in step.deliver)
    assert delivered == [s for s in log if s > cursor]


def test_resume_cursor_is_the_furthest_behind() -> None:
    assert resume_cursor([7, 3, 9]) == 3
    assert resume_cursor([]) == 0


def test_share_for_sink_skips_what_it_has_and_filters_but_advances() -> None:
    batch = [p(1, "a"), p(2, "b"), p(3, "a", "STEPS"), p(4, "b")]
    sub = Subscription(users={"a"})
    stored, cursor = share_for_sink(batch, 1, sub)
    assert [x.seq for x in stored] == [3] and cursor == 4
    assert share_for_sink(batch, 4, sub) == ([], 4)
    stored, cursor = share_for_sink(batch, 0, Subscription(types={"STEPS"}))
    assert [x.seq for x in stored] == [3] and cursor == 4
