"""HTTP on the broker's one port: each HTTP connection's bytes are relayed to hypercorn.

The listener (adapters/websocket/listener.py) keeps the WebSocket path to itself and hands
every other connection here, with the bytes it has read (the request head and any more). They
are relayed, both ways, to hypercorn serving the ASGI app on a private Unix socket, so the
HTTP app stays plain ASGI and the hot WebSocket path pays nothing for it.

Per connection it holds one buffer of ``CHUNK`` bytes each way (a write waits for the other
side to take it, so a slow reader stalls its writer, nothing piles up) and two sockets. It ends
when either side closes, when nothing has moved for ``idle_timeout`` (the keep-alive cap), and
soon after the client's end of file: a client that closes is noticed at once, instead of
holding its descriptors until a keep-alive timer runs out. Answers go out with the reason
phrases hypercorn leaves out (``status_lines.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Callable

import trio

from .status_lines import StatusLines

log = logging.getLogger("wearstream.http.forward")

CHUNK = 64 * 1024
# After the client's end of file, how long an answer still in progress may keep flowing.
EOF_GRACE = 2.0


class Forwarder:
    """Relays HTTP connections to the hypercorn listening on ``path`` (a Unix socket; a new one
    each time the supervisor starts hypercorn again, see ``server.supervise``)."""

    def __init__(self, path: str, idle_timeout: float) -> None:
        self.path = path
        self.idle_timeout = idle_timeout

    async def __call__(self, client: trio.abc.Stream, received: bytes, peer: str) -> None:
        upstream = await trio.open_unix_socket(self.path)
        async with upstream:
            relay = _Relay(client, upstream, self.idle_timeout)
            with relay.idle:
                relay.status.from_client(received)
                await upstream.send_all(received)
                await relay.run()
            if relay.idle.cancelled_caught:
                log.debug("HTTP connection from %s idle for %g s; closed", peer, relay.window)


class _Relay:
    """Both directions of one connection, under one idle deadline."""

    def __init__(self, client: trio.abc.Stream, upstream: trio.SocketStream, window: float) -> None:
        self.client = client
        self.upstream = upstream
        self.window = window
        self.idle = trio.CancelScope(deadline=trio.current_time() + window)
        self.status = StatusLines()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._from_client)
            await self._copy(self.upstream, self.client, self.status.from_app)
            nursery.cancel_scope.cancel()  # the app closed: so do we

    async def _from_client(self) -> None:
        await self._copy(self.client, self.upstream, self._seen_from_client)
        # The client is done sending (or gone): the app may finish its answer, briefly.
        self.window = min(self.window, EOF_GRACE)
        self.idle.deadline = min(self.idle.deadline, trio.current_time() + self.window)
        try:
            await self.upstream.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass

    def _seen_from_client(self, data: bytes) -> bytes:
        self.status.from_client(data)
        return data

    async def _copy(self, source: trio.abc.Stream, sink: trio.abc.Stream, passing: Callable[[bytes], bytes]) -> None:
        """Copy until ``source`` ends, each chunk through ``passing``; every chunk moves the idle
        deadline on."""
        try:
            while True:
                data = await source.receive_some(CHUNK)
                if not data:
                    return
                out = passing(data)
                if out:
                    await sink.send_all(out)
                self.idle.deadline = trio.current_time() + self.window
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return


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
