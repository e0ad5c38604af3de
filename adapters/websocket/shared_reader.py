"""One task that reads many sockets: what an identified connection waits in between readings.

Why (docs/benchmarks.md, "Issue 14: the hot path"): at 1 Hz × thousands of producers, a task per
socket pays for every reading a wake through trio's epoll (re-armed per wait), a task switch, and
a coroutine chain of some 25 objects rebuilt from the bottom; with 5,000 such chains young at
any moment, each young-generation GC collection walked all of them (57–105 ms pauses). Here an
identified connection's task parks once (``wait``) and stays parked while one broker-wide task
waits on an epoll set of all their sockets (level-triggered, registered once), reads each ready
socket without waiting (ServerSocket.poll_messages) and has the connection handle what came
(Connection.handle_shared: SUBMITs numbered, stored inline and dispatched, and HEARTBEATs
answered, with no task switch).

Structured concurrency is kept: the shared task runs in the broker's nursery, and each parked
connection task stays in its own nursery, where its close, cancellation and errors happen. The
shared task hands a connection back to its own task (``wait`` returns) whenever it needs more
than a plain reading or a heartbeat: a control frame, any other op, an ack that cannot be
written now, a broken frame, the end of the stream, a full intake, a close. An exception while
handling one connection's messages is raised in that connection's task (its own fault boundary
closes it with 1011), and the shared task goes on with the others. Only trio's public low-level
API is used: ``wait_readable`` on the epoll descriptor, and ``wait_task_rescheduled``/
``reschedule`` to park and wake a task.

On systems without epoll (macOS, Windows) and for TLS sockets, connections read in their own
task as before (``available`` is False, or the socket has no descriptor to share).
"""

from __future__ import annotations

import select
from functools import partial
from typing import Protocol

import outcome
import trio

from .server_socket import Message, ServerSocket, receive_buffer

READY_PER_PASS = 64  # sockets read per scheduler pass: the other tasks get their turn between


class Member(Protocol):
    """A connection whose socket the shared task reads (adapters/websocket/broker.py)."""

    ws: ServerSocket

    def handle_shared(self, messages: list[Message], now: float) -> bool:
        """Handle ``messages`` in the shared task (``now``: trio's clock, read once per pass);
        False: wake the connection's own task."""


class SharedReader:
    """Waits on many sockets in one task; parks each member's task until it is needed."""

    def __init__(self) -> None:
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._parked: dict[int, tuple[Member, trio.lowlevel.Task]] = {}
        self.running = False

    @property
    def available(self) -> bool:
        """Whether ``wait`` may be used now (the shared task runs, on a system with epoll)."""
        return self.running and self._epoll is not None

    def __len__(self) -> int:
        return len(self._parked)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the parked members until cancelled; then every one of them is woken (each
        goes on reading in its own task, or is being cancelled with the broker)."""
        epoll = self._epoll
        if epoll is None:
            task_status.started()
            await trio.sleep_forever()
            return
        self.running = True
        task_status.started()
        try:
            clock = trio.lowlevel.current_clock()
            buffer = receive_buffer()
            while True:
                await trio.lowlevel.wait_readable(epoll.fileno())
                now = clock.current_time()  # one read per pass: the sockets of a pass share it
                for fd, _ in epoll.poll(0, READY_PER_PASS):
                    self._serve(fd, now, buffer)
        finally:
            self.running = False
            for fd in list(self._parked):
                self._wake(fd, outcome.Value(None))
            epoll.close()

    async def wait(self, member: Member) -> None:
        """Park the calling task (``member``'s own) until the shared task hands it back; raises
        what handling its messages raised. Returns at once when the socket cannot be shared."""
        fd = member.ws.fileno()
        if fd < 0 or not self.available:
            return
        assert self._epoll is not None
        try:
            self._epoll.register(fd, select.EPOLLIN)
        except FileExistsError:  # a closed member's descriptor, reused before it was forgotten
            self._epoll.modify(fd, select.EPOLLIN)
        self._parked[fd] = (member, trio.lowlevel.current_task())
        member.ws.on_end = partial(self._ended, fd, member)  # closed by another of its tasks

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self._forget(fd, member)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _serve(self, fd: int, now: float, buffer: bytearray) -> None:
        parked = self._parked.get(fd)
        if parked is None:  # woken earlier in this pass
            return
        member = parked[0]
        try:
            messages = member.ws.poll_messages(buffer)
            if messages is None:
                self._wake(fd, outcome.Value(None))
            elif messages and not member.handle_shared(messages, now):
                self._wake(fd, outcome.Value(None))
        except Exception as error:  # one connection's fault: raised in its own task
            self._wake(fd, outcome.Error(error))

    def _ended(self, fd: int, member: Member) -> None:
        """``member``'s socket is closing: wake its task before the descriptor goes."""
        parked = self._parked.get(fd)
        if parked is not None and parked[0] is member:
            self._wake(fd, outcome.Value(None))

    def _wake(self, fd: int, result: outcome.Outcome[None]) -> None:
        parked = self._parked.get(fd)
        if parked is None:
            return
        member, task = parked
        self._forget(fd, member)
        trio.lowlevel.reschedule(task, result)

    def _forget(self, fd: int, member: Member) -> None:
        """Stop watching ``fd`` for ``member`` (its descriptor may be closed, or even reused by
        a newer member already: then the newer registration stays)."""
        parked = self._parked.get(fd)
        if parked is None or parked[0] is not member:
            return
        del self._parked[fd]
        member.ws.on_end = None
        if self._epoll is not None:
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):  # closed already: the kernel dropped it from the set
                pass
