"""The broker's deadline heap forgets ended connections at once (adapters/websocket/broker.py)."""

from __future__ import annotations

import gc
import weakref

from wearstream.adapters.websocket.broker import Deadlines


class Session:
    """A connection as the heap sees it: an id, whether it ended, and its due call."""

    def __init__(self, conn_id: int) -> None:
        self.id = conn_id
        self.ended = False
        self.due: list[float] = []

    def deadline_due(self, now: float) -> None:
        self.due.append(now)


def test_an_ended_connection_is_not_kept_and_its_entries_are_dropped() -> None:
    deadlines = Deadlines()
    sessions = [Session(n) for n in range(1, 1001)]
    for n, session in enumerate(sessions):
        deadlines.file(session, 100.0 + n)  # type: ignore[arg-type]
    gone = weakref.ref(sessions[0])
    for session in sessions[:-1]:
        session.ended = True
        deadlines.forget(session)  # type: ignore[arg-type]
    del sessions[:-1]
    gc.collect()
    assert gone() is None, "the heap still holds an ended connection"
    assert len(deadlines) <= 2 * 1 + 64
    deadlines.call_due(10_000.0)  # every entry is due: only the live one is called
    assert sessions[-1].due == [10_000.0]
