"""One accepted WebSocket on a trio stream: messages in batches, messages out in one write.

The whole interface the broker's Connection has with its socket:
``receive_messages()`` (every message that has arrived, at least one), ``send_message(text)``,
``send_messages(texts)`` (many frames, one write), ``aclose(code, reason)``, and ``closed``
(the code and reason once the connection has ended); and for the task that reads many sockets
(adapters/websocket/shared_reader.py), ``fileno()``, ``poll_messages()`` and ``send_now(texts)``,
which never wait, and ``on_end``, called when the connection ends.

There is no reader task: the connection's own task reads, parses (adapters/websocket/framing.py)
and answers control frames inline, so a reading costs no task switch or channel hop between the
socket and the session. Writers (the reader's replies, a consumer's sender, the ack sender, a
close) take turns, since a trio stream allows one writer at a time.

Most sockets are idle most of the time (a producer that heartbeats every 10 s), so what one holds
while it waits is kept small (docs/benchmarks.md, "Idle connections (issue 14)"): on a plain TCP
socket the wait is trio's ``wait_readable`` and the read a non-blocking ``os.readv`` into one
receive buffer shared by the whole trio run (a few coroutine frames less than
``SocketStream.receive_some``, and no 64 KiB ``bytes`` allocated and shrunk per read); what the
parser keeps between reads is only the bytes of an unfinished frame. The writers' turn and the
events of a close are made only when a second task needs them.
"""

from __future__ import annotations

import os
from typing import Callable

import attrs
import trio

from .framing import (
    CLOSE,
    PING,
    Control,
    FrameError,
    FrameParser,
    Message,
    check_close_payload,
    close_frame,
    frame,
    text_frames,
    PONG,
    TEXT,
)

RECEIVE_BYTES = 64 * 1024
CLOSE_TIMEOUT = 2.0  # for the peer to answer our close frame, and for the close frame to go out
ABNORMAL = 1006  # never on the wire: the connection ended without a close frame


@attrs.frozen
class CloseReason:
    code: int
    reason: str


_CLOSING = CloseReason(ABNORMAL, "closing")
_LOST = CloseReason(ABNORMAL, "connection lost")
# One receive buffer per trio run: a read copies what it got into its parser before it yields.
_RECEIVE_BUFFER: trio.lowlevel.RunVar[bytearray] = trio.lowlevel.RunVar("wearstream_receive_buffer")


def receive_buffer() -> bytearray:
    """This trio run's receive buffer (a task that reads many sockets gets it once)."""
    try:
        return _RECEIVE_BUFFER.get()
    except LookupError:
        buffer = bytearray(RECEIVE_BYTES)
        _RECEIVE_BUFFER.set(buffer)
        return buffer


class ConnectionClosed(Exception):
    """The WebSocket has ended (``reason``: its code and reason)."""

    def __init__(self, reason: CloseReason) -> None:
        super().__init__(f"{reason.code} {reason.reason}")
        self.reason = reason


class ServerSocket:
    """A server-side WebSocket after its handshake. ``buffered``: bytes read past the head."""

    __slots__ = (
        "remote", "closed", "_stream", "_socket", "_parser", "_writing", "_turns",
        "_close_sent", "_broken", "_reading", "_peer_done", "_change", "_our_close", "_held",
        "_lost", "on_end",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        remote: str,
        *,
        buffered: bytes = b"",
        max_message: int = 1024 * 1024,
    ) -> None:
        self.remote = remote
        self.closed: CloseReason | None = None
        self._stream = stream
        # a plain TCP socket is read directly (see the module's docstring); TLS through its stream
        self._socket = stream.socket if isinstance(stream, trio.SocketStream) else None
        self._parser = FrameParser(max_message)
        self._parser.feed(buffered)
        self._writing = False  # a task is writing to the stream (trio allows one at a time)
        self._turns: trio.lowlevel.ParkingLot | None = None  # writers waiting for their turn
        self._close_sent = False
        self._broken = False  # the peer broke the protocol: don't wait for its close frame
        self._reading = False  # a task is reading the stream (trio allows one at a time)
        self._peer_done = False  # the peer's close frame (or EOF) has arrived
        self._change: trio.Event | None = None  # set when _peer_done or closed change, if awaited
        self._our_close = _CLOSING
        self._held: list[Message | Control] | FrameError | None = None  # see poll_messages
        self._lost = False  # poll_messages met the end of the stream
        self.on_end: Callable[[], None] | None = None  # told once the connection has ended

    # Receiving -------------------------------------------------------------------------------

    async def receive_messages(self) -> list[Message]:
        """Every complete message received so far, waiting for at least one. Answers pings and
        the peer's close on the way. Raises ConnectionClosed once the connection has ended, and
        FrameError when the peer broke RFC 6455 (the caller closes with its code)."""
        while True:
            if self.closed is not None:
                raise ConnectionClosed(self.closed)
            try:
                items = self._take_held() or self._parser.parse()
            except FrameError:
                self._broken = True
                raise
            if items:
                if len(items) == 1 and type(items[0]) is not Control:
                    return items  # type: ignore[return-value]
                messages = await self._sort(items)
                if messages:
                    return messages
            if self._parser.closed:  # the peer has closed: nothing more comes
                raise ConnectionClosed(self.closed or self._our_close)
            await self._receive()

    def _take_held(self) -> list[Message | Control]:
        held, self._held = self._held, None
        if isinstance(held, FrameError):
            raise held
        return held or []

    def allow_messages(self, max_message: int) -> None:
        """Take messages of up to ``max_message`` bytes from now on (the session is READY: until
        then a stranger gets the smaller limit the listener set). A larger message that came
        right behind the IDENTIFY waits in the buffer for this (see ``unparsed``)."""
        self._parser.max_message = max_message

    @property
    def unparsed(self) -> bool:
        """Whether bytes wait in the buffer: then read on in this task (the shared reader waits
        for the socket to be readable, which they no longer make it)."""
        return self._parser.buffered > 0

    # Receiving from a task that reads many sockets -------------------------------------------

    def fileno(self) -> int:
        """The socket's descriptor while it is open and read directly, else -1 (TLS, closed)."""
        return self._socket.fileno() if self._socket is not None and self.closed is None else -1

    def poll_messages(self, buffer: bytearray) -> list[Message] | None:
        """Without waiting: the complete messages the socket has brought (maybe none), for a
        task that serves many sockets (adapters/websocket/shared_reader.py) and has seen this
        one readable; ``buffer``: receive_buffer(). None when the connection's own task must go
        on with receive_messages(): a control frame came, the peer broke the protocol, the
        stream ended, or a close is under way (what was read is kept for it)."""
        if self._reading or self._close_sent or self.closed is not None or self._parser.closed:
            return None
        if self._read_now(buffer) == 0:
            self._lost = True
            return None
        try:
            items = self._parser.parse()
        except FrameError as error:
            self._held = error
            return None
        for item in items:
            if type(item) is Control:
                self._held = items
                return None
        return items  # type: ignore[return-value]

    def send_now(self, messages: list[str]) -> bool | bytes:
        """Write text messages in one write without waiting, for code that must not wait (the
        task that serves many sockets, a consumer's queue): True when the kernel took them
        whole; False when nothing was written (the socket is busy, closing or full: send them
        the usual way); else the unwritten rest, which must go out with ``finish_send`` before
        anything else (the writers' turn stays taken)."""
        if self._writing or self._close_sent or self.closed is not None or self._socket is None:
            return False
        data = text_frames(messages)
        try:
            sent = os.write(self._socket.fileno(), data)
        except OSError:  # full (BlockingIOError) or broken: the usual way finds out which
            return False
        if sent == len(data):
            return True
        self._writing = True
        return data[sent:]

    async def finish_send(self, rest: bytes) -> None:
        """Write what ``send_now`` left over, then pass the writers' turn on. Should that fail
        or be cancelled, part of a frame is on the wire and nothing may follow it, not even a
        close frame: the connection ends at once."""
        try:
            await self._stream.send_all(rest)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self._abandon()
            raise ConnectionClosed(self.closed) from None  # type: ignore[arg-type]
        except BaseException:
            await self._abandon()
            raise
        finally:
            self._pass_turn()

    async def _abandon(self) -> None:
        self._close_sent = True
        await self._end(_LOST)

    async def _receive(self) -> None:
        if self._reading:  # a closing task is reading the peer's last frames: it ends us
            await self._until(self._has_ended)
            return
        self._reading = True
        try:
            more = await self._fill()
        finally:
            self._reading = False
        if not more:  # the stream ended without (the rest of) a close handshake
            self._peer_closed()
            await self._end(_LOST)

    async def _fill(self) -> bool:
        """Wait for bytes and hand them to the parser; False once the stream has ended."""
        if self._lost:
            return False
        sock = self._socket
        if sock is None:
            try:
                data = await self._stream.receive_some(RECEIVE_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return False
            self._parser.feed(data)
            return bool(data)
        buffer = receive_buffer()
        while (size := self._read_now(buffer)) is None:
            try:
                await trio.lowlevel.wait_readable(sock)
            except (trio.ClosedResourceError, OSError):
                return False
        if not size:
            return False
        await trio.lowlevel.checkpoint()  # a peer that always has data must not hold the loop
        return True

    def _read_now(self, buffer: bytearray) -> int | None:
        """One read of a plain socket without waiting, through ``buffer`` (receive_buffer())
        into the parser: the bytes read, 0 once the stream has ended (or was reset, or closed
        by another of the connection's tasks), None when nothing is waiting."""
        try:
            size = os.readv(self._socket.fileno(), (buffer,))  # type: ignore[union-attr]
        except BlockingIOError:
            return None
        except OSError:
            return 0
        self._parser.feed(memoryview(buffer)[:size])  # before anyone else may use the buffer
        return size

    async def _sort(self, items: list[Message | Control]) -> list[Message]:
        """The messages among ``items``; control frames are answered here."""
        messages: list[Message] = []
        for item in items:
            if type(item) is not Control:
                messages.append(item)  # type: ignore[arg-type]
            elif item.opcode == PING and not self._close_sent:
                await self._write_control(frame(PONG, item.payload))
            elif item.opcode == CLOSE:
                await self._peer_closing(item.payload)
        return messages

    async def _peer_closing(self, payload: bytes) -> None:
        """The peer's close frame: answer it (unless it answers ours) and end the connection."""
        code, reason = check_close_payload(payload)
        self._peer_closed()
        if not self._close_sent:
            self._close_sent = True
            with trio.move_on_after(CLOSE_TIMEOUT):
                try:
                    await self._write_control(close_frame(code, ""))
                except ConnectionClosed:
                    pass
            await self._end(CloseReason(code, reason))

    # Sending ---------------------------------------------------------------------------------

    async def send_message(self, message: str) -> None:
        """One text message."""
        await self._write(frame(TEXT, message.encode()))

    async def send_messages(self, messages: list[str]) -> None:
        """Several text messages in one write (one syscall for a consumer's whole batch)."""
        await self._write(text_frames(messages))

    async def _write(self, data: bytes) -> None:
        if self._close_sent or self.closed is not None:
            raise ConnectionClosed(self.closed or _CLOSING)
        await self._write_control(data)

    async def _write_control(self, data: bytes) -> None:
        await self._take_turn()
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self._end(_LOST)
            raise ConnectionClosed(self.closed) from None  # type: ignore[arg-type]
        finally:
            self._pass_turn()

    async def _take_turn(self) -> None:
        """Wait until no other task is writing (uncontended, nearly always: no scheduler trip).
        A lock made of a flag and, only once a second writer comes, a parking lot."""
        if not self._writing:
            self._writing = True
            return
        if self._turns is None:
            self._turns = trio.lowlevel.ParkingLot()
        await self._turns.park()  # _pass_turn hands the turn over: _writing stays True

    def _pass_turn(self) -> None:
        if self._turns:
            self._turns.unpark()
        else:
            self._writing = False

    # Closing ---------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str = "", timeout: float = CLOSE_TIMEOUT) -> None:
        """The closing handshake: send our close frame, wait for the peer's, then close the
        stream, all within ``timeout`` seconds (longer for a consumer whose close frame queues
        behind a stalled write: docs/limits.md). After a protocol violation the peer's answer is
        not awaited."""
        if self._close_sent or self.closed is not None:
            return
        self._close_sent = True
        self._our_close = CloseReason(code, reason)
        try:
            with trio.move_on_after(timeout):
                await self._take_turn()
                try:
                    await self._stream.send_all(close_frame(code, reason))
                finally:
                    self._pass_turn()
                if not self._broken:
                    await self._await_peer_close()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError, FrameError):
            pass
        finally:
            await self._end(self._our_close)

    async def _await_peer_close(self) -> None:
        if self._reading:  # the connection's reader is waiting for data: it will see the close
            await self._until(self._has_peer_closed)
            return
        if isinstance(self._held, list) and any(type(i) is Control and i.opcode == CLOSE for i in self._held):
            return  # poll_messages read the peer's close already
        self._reading = True
        try:
            while not self._peer_done and not self._parser.closed:
                self._parser.parse()  # data that arrives now is dropped: we are closing
                if self._parser.closed:
                    return
                if not await self._fill():
                    return
        finally:
            self._reading = False

    async def _end(self, reason: CloseReason) -> None:
        if self.closed is None:
            self.closed = reason
        self._changed()
        if self.on_end is not None:  # before the descriptor closes (see shared_reader.py)
            self.on_end()
        self._parser.release()  # up to a message: not kept while something holds the ended socket
        await trio.aclose_forcefully(self._stream)

    # Waiting for a close ---------------------------------------------------------------------

    def _has_ended(self) -> bool:
        return self.closed is not None

    def _has_peer_closed(self) -> bool:
        return self._peer_done

    def _peer_closed(self) -> None:
        self._peer_done = True
        self._changed()

    async def _until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()``; the event is made only now (rare: a close meeting a read)."""
        while not done():
            if self._change is None:
                self._change = trio.Event()
            await self._change.wait()

    def _changed(self) -> None:
        change, self._change = self._change, None
        if change is not None:
            change.set()
