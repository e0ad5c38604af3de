"""Hostile clients for the abuse scenario: each does one thing issue 12 found could hurt a broker,
over and over, for the measurement window, while the honest producers stream beside it.

Each is paced (``ROUNDS_PER_S`` rounds per client) so that what is measured is the broker's
answer to the abuse, not the abusers' own CPU on a machine they share with everyone else; a
round is one connection (handshake abort, bad token) or one burst of frames (floods). What a
client cannot do (the broker closed it, refused it) it counts and starts again: a real attacker
reconnects too.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import attrs
import httpx
import orjson
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, connect_websocket_url

from . import ws_clients

BEHAVIOURS = ("handshake-abort", "bad-token", "status-flood", "huge-submit", "never-read", "replay-flood")
ROUNDS_PER_S = 5.0
STATUS_BURST = 100  # STATUS frames per round, each naming a device never seen before
HUGE_BYTES = 200_000  # a SUBMIT this big per round (under the codec's frame limit)
REPLAY_BURST = 20  # REPLAY frames per round, each asking for the whole log
REPLAY_SEED = 500  # readings a replay flooder stores first, so there is something to re-send
RETRY_S = 0.1
SETUP_ERRORS = (ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError,
                trio.TooSlowError, httpx.HTTPError, ws_clients.SetupError)


@attrs.frozen
class Abuser:
    """One hostile client: its behaviour, its index (its user id) and the developer it uses."""

    behaviour: str
    index: int
    developer: int = -1  # index into WorkerConfig.developers; -1 for those needing no account


def plan(
    per_behaviour: int, first_developer: int, behaviours: tuple[str, ...] = BEHAVIOURS
) -> tuple[list[Abuser], int]:
    """``per_behaviour`` clients of each of ``behaviours``, and how many developers they need after
    ``first_developer``: the STATUS flooders share one; a huge-SUBMIT producer and a
    never-reading consumer share one each (so the consumer has traffic it does not read); each
    replay flooder has its own (one consumer per developer)."""
    n, status = per_behaviour, first_developer
    pair = lambda i: first_developer + 1 + i  # noqa: E731
    replay = lambda i: first_developer + 1 + n + i  # noqa: E731
    abusers = []
    for i in range(n):
        abusers += [
            Abuser("handshake-abort", i), Abuser("bad-token", i), Abuser("status-flood", i, status),
            Abuser("huge-submit", i, pair(i)), Abuser("never-read", i, pair(i)),
            Abuser("replay-flood", i, replay(i)),
        ]
    abusers = [a for a in abusers if a.behaviour in behaviours]
    return abusers, (1 + 2 * n if n else 0)


@attrs.define
class Abuse:
    """Runs the abusers of one load-generator process and counts what they did."""

    ws_url: str
    developers: tuple[tuple[str, str], ...]
    http: httpx.AsyncClient
    rounds: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(BEHAVIOURS, 0))
    closed: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(BEHAVIOURS, 0))

    async def run(self, abuser: Abuser, stop: float) -> None:
        """Repeat the abuser's behaviour until the wall-clock time ``stop``."""
        act = getattr(self, "_" + abuser.behaviour.replace("-", "_"))
        while time.time() < stop:
            refused = False
            with trio.move_on_after(max(0.0, stop - time.time())):
                try:
                    await act(abuser, stop)
                except* SETUP_ERRORS:  # from a nursery of the behaviour, so maybe in a group
                    refused = True
            if refused:
                self.closed[abuser.behaviour] += 1
                await trio.sleep(RETRY_S)

    async def _paced(self, behaviour: str, stop: float, burst: Callable[[], Awaitable[None]]) -> None:
        interval = 1.0 / ROUNDS_PER_S
        while time.time() < stop:
            await burst()
            self.rounds[behaviour] += 1
            await trio.sleep(interval)

    def _developer(self, abuser: Abuser) -> ws_clients.Developer:
        return ws_clients.Developer(*self.developers[abuser.developer])

    async def _session(self, nursery: trio.Nursery, abuser: Abuser, user: str | None, **options: int) -> WebSocketConnection:
        token = await ws_clients.mint(self.http, self._developer(abuser), user)
        role = ws_clients.CONSUMER if user is None else ws_clients.PRODUCER
        with trio.fail_after(ws_clients.CONNECT_TIMEOUT):
            ws = await connect_websocket_url(nursery, self.ws_url, **options)
            await ws.get_message()  # HELLO
            await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": role}}).decode())
            await ws.get_message()  # READY
        return ws

    # The behaviours ----------------------------------------------------------------------------

    async def _handshake_abort(self, abuser: Abuser, stop: float) -> None:
        """Start an upgrade to /connect and leave: RST and FIN in turn (issue 12.1)."""
        url = urlsplit(self.ws_url)

        async def burst() -> None:
            stream = await trio.open_tcp_stream(url.hostname or "127.0.0.1", url.port or 80)
            await stream.send_all(upgrade_head(url.netloc))
            if self.rounds[abuser.behaviour] % 2:
                stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()

        await self._paced(abuser.behaviour, stop, burst)

    async def _bad_token(self, abuser: Abuser, stop: float) -> None:
        """IDENTIFY with a token that was never minted, and wait for the refusal."""

        async def burst() -> None:
            async with trio.open_nursery() as nursery:
                ws = await connect_websocket_url(nursery, self.ws_url)
                await ws.get_message()  # HELLO
                frame = {"op": 3, "d": {"token": f"forged-{abuser.index}-{time.time()}", "type": 0}}
                await ws.send_message(orjson.dumps(frame).decode())
                try:
                    await ws.get_message()
                except ConnectionClosed:
                    pass
                await ws.aclose()

        await self._paced(abuser.behaviour, stop, burst)

    async def _status_flood(self, abuser: Abuser, stop: float) -> None:
        """STATUS frames naming ever new devices (issue 12.6)."""
        async with trio.open_nursery() as nursery:
            ws = await self._session(nursery, abuser, f"status-flooder-{abuser.index}")
            nursery.start_soon(_discard, ws)
            device = 0

            async def burst() -> None:
                nonlocal device
                for _ in range(STATUS_BURST):
                    device += 1
                    await ws.send_message(f'{{"op":8,"d":{{"connected":true,"device_id":"d{device}"}}}}')

            await self._paced(abuser.behaviour, stop, burst)
            nursery.cancel_scope.cancel()

    async def _huge_submit(self, abuser: Abuser, stop: float) -> None:
        """SUBMITs of HUGE_BYTES each, to a developer whose consumer never reads (issue 12.7)."""
        pad = "x" * HUGE_BYTES
        async with trio.open_nursery() as nursery:
            ws = await self._session(nursery, abuser, f"huge-{abuser.index}")
            nursery.start_soon(_discard, ws)

            async def burst() -> None:
                frame = f'{{"op":6,"t":"HEART_RATE","d":{{"ts":"2022-05-04T10:26:11Z","val":1,"pad":"{pad}"}}}}'
                await ws.send_message(frame)

            await self._paced(abuser.behaviour, stop, burst)
            nursery.cancel_scope.cancel()

    async def _never_read(self, abuser: Abuser, stop: float) -> None:
        """A consumer that never reads what it is sent (its client buffers nothing either)."""
        async with trio.open_nursery() as nursery:
            await self._session(nursery, abuser, None, message_queue_size=0)
            self.rounds[abuser.behaviour] += 1
            await trio.sleep(max(0.0, stop - time.time()))
            nursery.cancel_scope.cancel()

    async def seed(self, abuser: Abuser) -> None:
        """Before the window: store REPLAY_SEED readings for a replay flooder to ask for again."""
        if abuser.behaviour != "replay-flood":
            return
        async with trio.open_nursery() as nursery:
            producer = await self._session(nursery, abuser, f"replay-seed-{abuser.index}")
            nursery.start_soon(_discard, producer)
            for i in range(REPLAY_SEED):
                await producer.send_message(f'{{"op":6,"t":"HEART_RATE","d":{{"ts":"2022-05-04T10:26:11Z","val":{i}}}}}')
            await producer.aclose()

    async def _replay_flood(self, abuser: Abuser, stop: float) -> None:
        """Ask for the whole log (the seed) again and again (issue 12.7)."""
        async with trio.open_nursery() as nursery:
            consumer = await self._session(nursery, abuser, None)
            nursery.start_soon(_discard, consumer)

            async def burst() -> None:
                for _ in range(REPLAY_BURST):
                    await consumer.send_message('{"op":7,"d":{"after":0,"before":4611686018427387904}}')

            await self._paced(abuser.behaviour, stop, burst)
            nursery.cancel_scope.cancel()


def upgrade_head(host: str) -> bytes:
    return (
        f"GET /connect HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def _discard(ws: WebSocketConnection) -> None:
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed:
        pass


async def seed_all(
    abusers: tuple[Abuser, ...], ws_url: str, http_url: str, developers: tuple[tuple[str, str], ...]
) -> None:
    """What the abusers need before the window (the replay flooders' logs)."""
    async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
        abuse = Abuse(ws_url, developers, http)
        async with trio.open_nursery() as nursery:
            for abuser in abusers:
                nursery.start_soon(abuse.seed, abuser)


async def run_all(
    abusers: tuple[Abuser, ...], ws_url: str, http_url: str, developers: tuple[tuple[str, str], ...],
    start: float, stop: float, wait_until: Callable[[float], Awaitable[None]],
) -> dict[str, dict[str, int]]:
    """Run every abuser from ``start`` to ``stop`` (wall clock); what they did, per behaviour."""
    async with httpx.AsyncClient(base_url=http_url, timeout=30) as http:
        abuse = Abuse(ws_url, developers, http)
        await wait_until(start)
        async with trio.open_nursery() as nursery:
            for abuser in abusers:
                nursery.start_soon(abuse.run, abuser, stop)
    return {"rounds": abuse.rounds, "closed": abuse.closed}
