"""One accepted WebSocket on a trio stream: messages in batches, messages out in one write.

The whole interface the broker's Connection has with its socket:
``receive_messages()`` (every message that has arrived, at least one), ``send_message(text)``,
``send_messages(texts)`` (many frames, one write), ``aclose(code, reason)``, and ``closed``
(the code and reason once the connection has ended).

There is no reader task: the connection's own task reads, parses (adapters/websocket/framing.py)
and answers control frames inline, so a reading costs no task switch or channel hop between the
socket and the session. Writers (the reader's replies, a consumer's sender, the ack sender, a
close) share one lock, since a trio stream allows one writer at a time.
"""

from __future__ import annotations

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


class ConnectionClosed(Exception):
    """The WebSocket has ended (``reason``: its code and reason)."""

    def __init__(self, reason: CloseReason) -> None:
        super().__init__(f"{reason.code} {reason.reason}")
        self.reason = reason


class ServerSocket:
    """A server-side WebSocket after its handshake. ``buffered``: bytes read past the head."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        remote: str,
        *,
        buffered: bytes = b"",
        max_message: int = 1024 * 1024,
        receive_bytes: int = RECEIVE_BYTES,
    ) -> None:
        self.remote = remote
        self.closed: CloseReason | None = None
        self._stream = stream
        self._parser = FrameParser(max_message)
        self._parser.feed(buffered)
        self._receive_bytes = receive_bytes
        self._send_lock = trio.Lock()
        self._close_sent = False
        self._broken = False  # the peer broke the protocol: don't wait for its close frame
        self._reading = False  # a task is in receive_some (trio allows one at a time)
        self._peer_closed = trio.Event()  # the peer's close frame (or EOF) has arrived
        self._ended = trio.Event()
        self._our_close = CloseReason(ABNORMAL, "closing")

    # Receiving -------------------------------------------------------------------------------

    async def receive_messages(self) -> list[Message]:
        """Every complete message received so far, waiting for at least one. Answers pings and
        the peer's close on the way. Raises ConnectionClosed once the connection has ended, and
        FrameError when the peer broke RFC 6455 (the caller closes with its code)."""
        while True:
            if self.closed is not None:
                raise ConnectionClosed(self.closed)
            try:
                items = self._parser.parse()
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

    async def _receive(self) -> None:
        if self._reading:  # a closing task is reading the peer's last frames: it ends us
            await self._ended.wait()
            return
        self._reading = True
        try:
            data = await self._stream.receive_some(self._receive_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        finally:
            self._reading = False
        if data:
            self._parser.feed(data)
        else:  # the stream ended without (the rest of) a close handshake
            self._peer_closed.set()
            await self._end(CloseReason(ABNORMAL, "connection lost"))

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
        self._peer_closed.set()
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
            raise ConnectionClosed(self.closed or CloseReason(ABNORMAL, "closing"))
        await self._write_control(data)

    async def _write_control(self, data: bytes) -> None:
        lock = self._send_lock
        try:  # uncontended (nearly always): no extra trip through the scheduler to take it
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await self._end(CloseReason(ABNORMAL, "connection lost"))
            raise ConnectionClosed(self.closed) from None  # type: ignore[arg-type]
        finally:
            lock.release()

    # Closing ---------------------------------------------------------------------------------

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """The closing handshake: send our close frame, wait (bounded) for the peer's, then
        close the stream. After a protocol violation the peer's answer is not awaited."""
        if self._close_sent or self.closed is not None:
            return
        self._close_sent = True
        self._our_close = CloseReason(code, reason)
        try:
            with trio.move_on_after(CLOSE_TIMEOUT):
                async with self._send_lock:
                    await self._stream.send_all(close_frame(code, reason))
                if not self._broken:
                    await self._await_peer_close()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError, FrameError):
            pass
        finally:
            await self._end(self._our_close)

    async def _await_peer_close(self) -> None:
        if self._reading:  # the connection's reader is waiting for data: it will see the close
            await self._peer_closed.wait()
            return
        self._reading = True
        try:
            while not self._peer_closed.is_set() and not self._parser.closed:
                self._parser.parse()  # data that arrives now is dropped: we are closing
                if self._parser.closed:
                    return
                data = await self._stream.receive_some(self._receive_bytes)
                if not data:
                    return
                self._parser.feed(data)
        finally:
            self._reading = False

    async def _end(self, reason: CloseReason) -> None:
        if self.closed is None:
            self.closed = reason
        self._ended.set()
        await trio.aclose_forcefully(self._stream)
