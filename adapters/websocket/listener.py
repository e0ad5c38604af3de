"""The broker's one listening port: its own accept loop, one fault boundary per connection.

Each accepted socket gets a task whose whole life, from the first byte (TLS handshake, request
head, WebSocket handshake, peer address) to its close, sits in one ``try``: whatever goes wrong
in it (a client that sends half a handshake and resets, garbage, a timeout, a bug) is one log
line and that one socket closed; the accept loop and every other connection carry on.

The listener reads the request head itself and routes it: an upgrade request, or any request
for ``/connect``, is a WebSocket handshake (adapters/websocket/handshake.py) and the socket is
handed to the broker as a ServerSocket; anything else goes to the HTTP handler (the HTTP API,
forwarded to hypercorn: adapters/http/forward.py). TLS, when configured, is terminated here,
once, for both.

Bounds (each with a broker flag): connections at once, time to a complete handshake, size of
a request head. At the process's file-descriptor limit the loop keeps running: it closes its
reserve descriptor, accepts and closes the waiting connection (a clean refusal instead of a
client left hanging in the backlog), backs off, and logs once per interval.
"""

from __future__ import annotations

import errno
import logging
import os
import ssl
from typing import Awaitable, Callable

import attrs
import trio

from . import handshake
from .server_socket import ServerSocket

log = logging.getLogger("wearstream.broker.listener")

# accept() failing for want of resources: wait and retry (as trio.serve_listeners does).
_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
ACCEPT_BACKOFF = 0.1
SHED_WAIT = 0.005  # at the descriptor limit: the backlog is empty once no client came for this long
LOG_EVERY = 10.0  # seconds between two log lines about the same kind of refusal
_SERVICE_UNAVAILABLE = handshake.plain_response(
    503, "Service Unavailable", "the broker is at its limit of connections\n", "Retry-After: 1"
)
_HEAD_TOO_LARGE = handshake.plain_response(431, "Request Header Fields Too Large", "request head is too large\n")
# A port spoken to the other way. On the plain port: unreadable to a TLS client, which fails at
# once on it ("wrong version number") instead of waiting out --handshake-timeout, and its own
# one-line error then says to use ws:// or http://. On the TLS port: plain text, which a plain
# client reads ("use https://") instead of a connection closed unanswered.
_NOT_TLS = handshake.plain_response(400, "Bad Request", "this port speaks plain HTTP: use ws:// or http://\n")
_NEEDS_TLS = handshake.plain_response(400, "Bad Request", "this port speaks TLS: use wss:// or https://\n")
_TLS_HANDSHAKE = 0x16  # the first byte of a TLS record that opens a handshake; no HTTP method's
LINGER_S = 1.0  # after such an answer: reading what the client still sends, at most this long
LINGER_READS = 4  # and at most this many reads (_READ_BYTES each)
_HEAD_END = b"\r\n\r\n"
_READ_BYTES = 16 * 1024


@attrs.frozen
class ListenerLimits:
    """Bounds on what a client can make the listener hold (docs/deployment.md)."""

    max_connections: int = 10_000
    handshake_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024
    max_message_bytes: int = 1024 * 1024
    # Until a session is READY: an IDENTIFY (or a HEARTBEAT) is all a client may send, and a
    # stranger's connections must not each hold up to a whole max_message_bytes.
    max_identify_bytes: int = 16 * 1024


WebSocketHandler = Callable[[ServerSocket], Awaitable[None]]
# An HTTP connection: the client's stream, the bytes read so far (head included), the peer.
HttpHandler = Callable[[trio.abc.Stream, bytes, str], Awaitable[None]]


class HeadTooLarge(Exception):
    pass


class TlsOnPlainPort(Exception):
    """The client opened with a TLS handshake (wss:// or https://) on a port without TLS."""


class PlainOnTlsPort(Exception):
    """The client opened with plain bytes (ws:// or http://) on the TLS port."""


class _Unread(trio.abc.Stream):
    """A stream whose first bytes were read already, to look at them: they come first again."""

    def __init__(self, stream: trio.abc.Stream, first: bytes) -> None:
        self._stream = stream
        self._first = first

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._first:
            size = len(self._first) if max_bytes is None else max_bytes
            data, self._first = self._first[:size], self._first[size:]
            return data
        return await self._stream.receive_some(max_bytes)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


class Listener:
    """Accepts on its sockets and routes each connection to the WebSocket or HTTP handler."""

    def __init__(
        self,
        websocket: WebSocketHandler,
        http: HttpHandler | None = None,
        *,
        limits: ListenerLimits = ListenerLimits(),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.websocket = websocket
        self.http = http
        self.limits = limits
        self.ssl_context = ssl_context
        self.active = 0
        self.refused = 0
        self._reserve: int | None = _open_reserve()
        self._logged: dict[str, float] = {}
        self._accepting = trio.CancelScope()

    async def serve(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept on every listener until cancelled or stop_accepting() (like
        trio.serve_listeners, with bounds); connections carry on until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._accept_all, listeners, nursery)
                task_status.started()
        finally:
            if self._reserve is not None:
                os.close(self._reserve)
                self._reserve = None

    def stop_accepting(self) -> None:
        """Close the listening sockets (new clients are refused at once, and find another
        node), leaving the connections already accepted to the caller."""
        self._accepting.cancel()

    async def _accept_all(self, listeners: list[trio.SocketListener], nursery: trio.Nursery) -> None:
        try:
            with self._accepting:
                async with trio.open_nursery() as accepting:
                    for listener in listeners:
                        accepting.start_soon(self._accept_loop, listener, nursery)
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _CAPACITY_ERRNOS:
                    raise
                await self._at_fd_limit(listener, error)
                continue
            if self.active >= self.limits.max_connections:
                self.refused += 1
                self._log_once("cap", "at --max-connections (%d): refusing new connections with 503",
                               self.limits.max_connections)
                await self._refuse(stream)
                continue
            self.active += 1
            nursery.start_soon(self._connection, stream)

    async def _at_fd_limit(self, listener: trio.SocketListener, error: OSError) -> None:
        """Out of descriptors: free the reserve one to accept and close the waiting client,
        so it is refused rather than left hanging, then back off and take the reserve again."""
        self.refused += 1
        self._log_once(
            "fds", "accept failed: %s; refusing new connections until some close (raise LimitNOFILE)",
            os.strerror(error.errno or 0),
        )
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None
            await self._shed(listener)
        await trio.sleep(ACCEPT_BACKOFF)
        self._reserve = self._reserve if self._reserve is not None else _open_reserve()

    async def _shed(self, listener: trio.SocketListener) -> None:
        """Accept and close every client waiting in the backlog, one descriptor at a time."""
        while True:
            with trio.move_on_after(SHED_WAIT) as waited:
                try:
                    stream = await listener.accept()
                except OSError:
                    return  # the freed descriptor went elsewhere
                self.refused += 1
                await trio.aclose_forcefully(stream)
            if waited.cancelled_caught:
                return

    async def _refuse(self, stream: trio.SocketStream) -> None:
        """503 and close, in passing: a fresh socket's send buffer is empty, so this never waits
        long (and with TLS, where no plain answer is readable, it just closes)."""
        try:
            if self.ssl_context is None:
                with trio.move_on_after(ACCEPT_BACKOFF):
                    await stream.send_all(_SERVICE_UNAVAILABLE)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            await trio.aclose_forcefully(stream)

    async def _connection(self, raw: trio.SocketStream) -> None:
        """The fault boundary of one connection, from its first byte to its close."""
        stream: trio.abc.Stream = raw
        peer = "?"
        try:
            peer = _peer(raw)
            with trio.fail_after(self.limits.handshake_timeout):
                if self.ssl_context is not None:
                    stream = trio.SSLStream(
                        await _tls_opening(raw), self.ssl_context, server_side=True, https_compatible=True
                    )
                    await stream.do_handshake()
                routed = await self._route(stream, peer)
            if isinstance(routed, ServerSocket):
                await self.websocket(routed)
            elif routed is not None:
                assert self.http is not None
                await self.http(stream, routed, peer)
        except trio.TooSlowError:
            log.info("connection from %s: no complete handshake within %g s; closed", peer,
                     self.limits.handshake_timeout)
        except HeadTooLarge:
            log.info("connection from %s: request head over %d bytes; closed", peer, self.limits.max_head_bytes)
            await _best_effort(stream, _HEAD_TOO_LARGE)
        except PlainOnTlsPort:
            log.info("connection from %s: plain bytes on the TLS port (ws:// or http:// for wss:// "
                     "or https://); closed", peer)
            await _answer_then_close(raw, _NEEDS_TLS)
        except TlsOnPlainPort:
            log.info("connection from %s: a TLS handshake on a port without TLS (wss:// or https:// "
                     "for ws:// or http://); closed", peer)
            await _answer_then_close(raw, _NOT_TLS)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as error:
            log.info("connection from %s lost: %s", peer, _describe(error))
        except Exception:
            log.exception("connection from %s failed; closed", peer)
        finally:
            self.active -= 1
            await trio.aclose_forcefully(stream)

    async def _route(self, stream: trio.abc.Stream, peer: str) -> ServerSocket | bytes | None:
        """Read the request head and answer a WebSocket handshake: the ServerSocket to run, or
        for the HTTP handler the bytes read so far, or None (closed first, or refused). A
        function of its own so that the head and the answer are not kept for as long as the
        connection lasts (what an idle connection holds: docs/benchmarks.md, issue 14)."""
        head, rest = await read_head(stream, self.limits.max_head_bytes, plain=self.ssl_context is None)
        if head is None:
            return None  # closed before sending a request: nothing to say
        if not is_websocket_request(head) and self.http is not None:
            return head + rest
        answer = handshake.answer(head)
        await stream.send_all(answer.response)
        if not answer.accepted:
            log.info("handshake from %s refused: %d", peer, answer.status)
            return None
        limit = min(self.limits.max_identify_bytes, self.limits.max_message_bytes)
        return ServerSocket(stream, peer, buffered=rest, max_message=limit)

    def _log_once(self, kind: str, message: str, *args: object) -> None:
        """A warning at most every LOG_EVERY seconds per kind: a flood is one line, not many."""
        now = trio.current_time()
        if now - self._logged.get(kind, -LOG_EVERY) >= LOG_EVERY:
            self._logged[kind] = now
            log.warning(message + " (%d refused so far)", *args, self.refused)


async def _tls_opening(raw: trio.SocketStream) -> trio.abc.Stream:
    """``raw`` for the TLS handshake, its first bytes looked at: PlainOnTlsPort if they are not
    a TLS handshake's (an HTTP request, say), which the listener answers in plain text."""
    first = await raw.receive_some(_READ_BYTES)
    if first and first[0] != _TLS_HANDSHAKE:
        raise PlainOnTlsPort()
    return _Unread(raw, first)


async def read_head(
    stream: trio.abc.Stream, limit: int, *, plain: bool = True
) -> tuple[bytes | None, bytes]:
    """The request head (through its empty line) and whatever came after it; (None, b"") if the
    client closed first. HeadTooLarge past ``limit`` bytes; on a ``plain`` port, TlsOnPlainPort
    if it opens with a TLS handshake (inside a TLS session such bytes are just a bad head)."""
    data = b""
    while True:
        end = data.find(_HEAD_END)
        if end >= 0:
            end += len(_HEAD_END)
            if end > limit:  # a whole head can come in one read
                raise HeadTooLarge()
            return data[:end], data[end:]
        if len(data) > limit:
            raise HeadTooLarge()
        chunk = await stream.receive_some(_READ_BYTES)
        if not chunk:
            if data:
                raise trio.BrokenResourceError("closed in the middle of a request head")
            return None, b""
        if plain and not data and chunk[0] == _TLS_HANDSHAKE:
            raise TlsOnPlainPort()
        data += chunk


def is_websocket_request(head: bytes) -> bool:
    """An upgrade to WebSocket, or any request for the WebSocket path (which the handshake then
    answers: 426 for a plain GET, 404 for an upgrade elsewhere)."""
    line, _, headers = head.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) == 3 and parts[1].split(b"?", 1)[0] == handshake.PATH.encode():
        return True
    for header in headers.lower().split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name.strip() == b"upgrade" and b"websocket" in value:
            return True
    return False


def _peer(stream: trio.SocketStream) -> str:
    address = stream.socket.getpeername()
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address) or "local"


def _describe(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__ or error
    return str(cause) or type(cause).__name__


async def _answer_then_close(stream: trio.SocketStream, data: bytes) -> None:
    """Answer, then read what the client still sends for a moment before the caller closes: a
    close with unread bytes is a reset, which may discard the answer on its way (RFC 7230
    6.6), and this answer is what tells the client to use the other scheme."""
    await _best_effort(stream, data)
    with trio.move_on_after(LINGER_S):
        try:
            await stream.send_eof()
            for _ in range(LINGER_READS):
                if not await stream.receive_some(_READ_BYTES):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


async def _best_effort(stream: trio.abc.Stream, data: bytes) -> None:
    with trio.move_on_after(1):
        try:
            await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


def _open_reserve() -> int | None:
    """One spare descriptor, given back at the limit so an accept can still succeed."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


class ListenError(OSError):
    """The broker cannot listen on the address it was given."""


async def open_listeners(host: str, port: int) -> list[trio.SocketListener]:
    """Listening sockets on ``host:port`` (port 0: any free one), with a deep backlog."""
    try:
        return await trio.open_tcp_listeners(port, host=host, backlog=BACKLOG)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ListenError(error.errno, f"cannot listen on {host}:{port}: {reason}") from None


def bound_port(listeners: list[trio.SocketListener]) -> int:
    return int(listeners[0].socket.getsockname()[1])


# Connections the kernel queues before accept (capped by net.core.somaxconn): thousands of
# devices reconnecting at once after a restart must wait, not be refused.
BACKLOG = 4096


def server_ssl_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    """A TLS server context for ``certfile``/``keyfile`` (PEM), HTTP/1.1 only (ALPN)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context
