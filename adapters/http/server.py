"""Serving an ASGI app with hypercorn's trio worker, inside the caller's nursery.

We bind the listening socket ourselves and hand hypercorn its file descriptor (``fd://``): the
bound port is then known before anyone can connect (port 0 works, with no "find a free port,
then bind it" race), and a port already in use fails here with a message naming it.

Cancelling the caller's scope shuts down gracefully: hypercorn runs in a shielded scope, its
shutdown trigger fires, requests in flight get ``graceful_timeout`` to finish, and only then does
``serve_http`` return. The shield has its own deadline, so a stuck app cannot hold shutdown up.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .urls import url_host

log = logging.getLogger("wearstream.http")
# hypercorn's own lines: its "Running on … (CTRL + C to quit)" at INFO names a socket the user
# never uses (the broker's is private) and comes before a start-up error's one line; warnings
# and errors still show.
_HYPERCORN_LOG = logging.getLogger("wearstream.http.server")
_HYPERCORN_LOG.setLevel(logging.WARNING)

GRACEFUL_TIMEOUT = 2.0
# Beyond the graceful window: how long hypercorn may take to finish closing before we cut it off.
SHUTDOWN_MARGIN = 1.0
# Connections the kernel queues before accept (capped by net.core.somaxconn): thousands of
# devices minting tokens at once after a restart must wait, not be refused.
BACKLOG = 4096


class HttpBindError(OSError):
    """The HTTP server could not listen on the address it was given."""


class HttpServerStopped(RuntimeError):
    """hypercorn ended while nobody asked it to."""


RESTART_PAUSE = 0.5  # seconds between a failed HTTP server and its next start


class _Reported:
    """A task status that remembers whether the server said it had started."""

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self.inner = inner
        self.done = False

    def started(self, value: Any = None) -> None:
        self.done = True
        self.inner.started(value)


async def supervise(
    start: Callable[[bool, trio.TaskStatus[Any]], Awaitable[None]],
    *,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``start(first, task_status)`` (one hypercorn on fresh sockets) until cancelled, starting
    it again whenever it fails after it had started.

    An error hypercorn lets out of one connection ends its whole server, listeners included; the
    broker must not be left without its HTTP API for it. (The one the fuzzer found, an upgrade
    pipelined after a first request, no longer reaches it: exchange.py.) Requests in flight at
    that moment are lost; the next ones are served. Only the first start reports through
    ``task_status``.
    """
    status = _Reported(task_status)
    while True:
        first = not status.done
        try:
            await start(first, status if first else trio.TASK_STATUS_IGNORED)
        except Exception as error:  # noqa: BLE001 (logged whole: it is a bug of hypercorn's or ours)
            if not status.done:
                raise  # it never started: the caller reports why
            log.error("the HTTP server failed (%r); starting it again", error, exc_info=error)
        await trio.sleep(RESTART_PAUSE)


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free one)."""
    try:
        return socket.create_server((host, port), backlog=BACKLOG)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise HttpBindError(error.errno, f"HTTP server cannot listen on {host}:{port}: {reason}") from None


# An idle keep-alive connection is closed after this long (``--http-idle-timeout``): longer than
# clients keep an idle pooled connection (httpx, Node: 5 s), so the server never closes one just
# as a client reuses it for a token request, and short enough that idle sockets don't pile up.
KEEP_ALIVE_TIMEOUT = 30.0


def hypercorn_config(
    secure: list[socket.socket],
    graceful_timeout: float,
    keep_alive: float = KEEP_ALIVE_TIMEOUT,
    *,
    plain: list[socket.socket] = (),  # type: ignore[assignment]
    certfile: str | None = None,
    keyfile: str | None = None,
) -> Config:
    """A config serving on the given sockets (which hypercorn takes over), logging through
    ``logging``; with ``certfile``, TLS on ``secure`` (``plain`` never has TLS)."""
    config = Config()
    binds = [f"fd://{sock.detach()}" for sock in secure]
    plain_binds = [f"fd://{sock.detach()}" for sock in plain]
    if certfile is not None:  # hypercorn uses insecure_bind only when TLS is on
        config.certfile = certfile
        config.keyfile = keyfile or certfile
        config.bind, config.insecure_bind = binds, plain_binds
    else:
        config.bind = binds + plain_binds
    config.graceful_timeout = graceful_timeout
    config.backlog = BACKLOG  # hypercorn listens again on the socket with its own backlog
    config.accesslog = None
    config.errorlog = _HYPERCORN_LOG
    config.include_server_header = False
    config.keep_alive_timeout = keep_alive
    return config


async def serve_http(
    app: Any,
    host: str,
    port: int,
    *,
    graceful_timeout: float = GRACEFUL_TIMEOUT,
    keep_alive: float = KEEP_ALIVE_TIMEOUT,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` until cancelled; reports the bound port via task_status."""
    sock = listen_socket(host, port)
    bound_port: int = sock.getsockname()[1]
    config = hypercorn_config([sock], graceful_timeout, keep_alive)
    await serve_config(app, config, f"http://{url_host(host)}:{bound_port}", bound_port, task_status=task_status)


async def serve_config(
    app: Any,
    config: Config,
    where: str,
    started: Any = None,
    *,
    level: int = logging.INFO,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run hypercorn with ``config`` until cancelled, then shut it down gracefully (bounded);
    reports ``started`` via task_status once it listens, logging ``where`` at ``level`` (the
    broker's private socket is no address for a user: debug)."""
    stop = trio.Event()
    shield = trio.CancelScope(shield=True)

    async def run_hypercorn(*, task_status: trio.TaskStatus[list[str]]) -> None:
        with shield:
            await serve(app, config, shutdown_trigger=stop.wait, task_status=task_status)
        if not stop.is_set():  # it stopped by itself: say so, rather than serve nothing quietly
            raise HttpServerStopped("hypercorn stopped serving")

    async with trio.open_nursery() as nursery:
        try:
            await nursery.start(run_hypercorn)
            log.log(level, "HTTP API on %s", where)
            task_status.started(started)
            await trio.sleep_forever()
        finally:
            stop.set()
            shield.deadline = trio.current_time() + config.graceful_timeout + SHUTDOWN_MARGIN
