"""HTTP on the broker's one port: each HTTP connection is relayed to hypercorn.

The listener (adapters/websocket/listener.py) keeps the WebSocket path to itself and hands
every other connection here, with the bytes it has read (the request head and any more). They
are relayed, both ways, to hypercorn serving the ASGI app on a private Unix socket, so the
HTTP app stays plain ASGI and the hot WebSocket path pays nothing for it. On the way, h11 reads
and writes again every request and answer (``exchange.py``): hypercorn only reads HTTP/1.1 that
h11 wrote, and answers go out with the reason phrases hypercorn leaves out.

Per connection it holds one buffer of ``CHUNK`` bytes each way (a write waits for the other
side to take it, so a slow reader stalls its writer, nothing piles up), what the exchange holds
(about ``--max-head-bytes``) and two sockets. It ends when either side closes, when the exchange is
over (a refused request, an answer after which the connection closes), when nothing has moved
for ``idle_timeout`` (the keep-alive cap), and soon after the client's end of file: a client
that closes is noticed at once, instead of holding its descriptors until a keep-alive timer
runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Callable

import trio

from .exchange import Exchange

log = logging.getLogger("wearstream.http.forward")

CHUNK = 64 * 1024
# After the client's end of file, how long an answer still in progress may keep flowing.
EOF_GRACE = 2.0


class Forwarder:
    """Relays HTTP connections to the hypercorn listening on ``path`` (a Unix socket; a new one
    each time the supervisor starts hypercorn again, see ``server.supervise``)."""

    def __init__(self, path: str, idle_timeout: float, max_head_bytes: int) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.max_head_bytes = max_head_bytes

    async def __call__(self, client: trio.abc.Stream, received: bytes, peer: str) -> None:
        upstream = await trio.open_unix_socket(self.path)
        async with upstream:
            relay = _Relay(client, upstream, self.idle_timeout, self.max_head_bytes)
            with relay.idle:
                await relay.run(received)
            if relay.idle.cancelled_caught:
                log.debug("HTTP connection from %s idle for %g s; closed", peer, relay.window)


class _Relay:
    """Both directions of one connection, through one Exchange, under one idle deadline. Each
    direction has its task, and either may have something to write either way (a refusal for
    the client, a pipelined request's turn for hypercorn): each write takes what the exchange
    has for that side under that side's lock, so writes keep the exchange's order."""

    def __init__(self, client: trio.abc.Stream, upstream: trio.SocketStream, window: float, max_held: int) -> None:
        self.client = client
        self.upstream = upstream
        self.window = window
        self.idle = trio.CancelScope(deadline=trio.current_time() + window)
        self.exchange = Exchange(max_held)
        self._locks = {client: trio.Lock(), upstream: trio.Lock()}

    async def run(self, received: bytes) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._from_client, received, nursery.cancel_scope)
            await self._from_app()
            nursery.cancel_scope.cancel()  # the app closed, or the exchange is over: so are we

    async def _from_client(self, data: bytes, over: trio.CancelScope) -> None:
        exchange = self.exchange
        try:
            while True:
                exchange.from_client(data)
                await self._write(self.client, exchange.to_client)
                await self._write(self.upstream, exchange.to_app)
                if exchange.ended:  # everything for the client went out just above
                    over.cancel()
                    return
                if not exchange.reading:  # a refusal waits for the answer under way
                    return
                if not data:
                    break
                self._moved()
                data = await self.client.receive_some(CHUNK)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        # The client is done sending (or gone): the app may finish its answer, briefly.
        self.window = min(self.window, EOF_GRACE)
        self.idle.deadline = min(self.idle.deadline, trio.current_time() + self.window)

    async def _from_app(self) -> None:
        exchange = self.exchange
        try:
            while not exchange.ended:
                data = await self.upstream.receive_some(CHUNK)
                exchange.from_app(data)  # b"": the end of an answer that runs until the close
                await self._write(self.client, exchange.to_client)
                await self._write(self.upstream, exchange.to_app)  # a pipelined request's turn
                if not data:
                    return
                self._moved()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def _write(self, stream: trio.abc.Stream, take: Callable[[], bytes]) -> None:
        """Send ``stream`` what ``take`` gives (the exchange's bytes for it), taken under the
        stream's lock, so that the two tasks' writes keep the exchange's order."""
        async with self._locks[stream]:
            data = take()
            if data:
                await stream.send_all(data)

    def _moved(self) -> None:
        self.idle.deadline = trio.current_time() + self.window


def private_socket_path() -> Path:
    """A path for hypercorn's Unix socket in a fresh directory only this user can enter."""
    return Path(tempfile.mkdtemp(prefix="wearstream-http-")) / "http.sock"


def unix_listen_socket(path: Path, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(backlog)
    return sock


def remove_socket(path: Path) -> None:
    for remove in (os.unlink, os.rmdir):
        try:
            remove(path if remove is os.unlink else path.parent)
        except OSError:
            pass
