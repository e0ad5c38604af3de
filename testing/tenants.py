"""Tenants of a real `wearstream broker` process, and what that process costs, for hostile tests.

A hostile test plays one tenant that misbehaves (a STATUS flood, a consumer that never reads, a
REPLAY flood) while another tenant checks that its round trip stays fast, and reads the broker's
resident memory and CPU time from /proc before and after. Everything goes through the real
protocol on real sockets: HTTP for tokens, WebSocket frames for the rest.
"""

from __future__ import annotations

import math
import os
import tempfile
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, Sequence

import attrs
import httpx
import orjson
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from .broker_process import BrokerProcess, DeveloperCredentials, create_developers

PRODUCER, CONSUMER, DASHBOARD = 0, 1, 2
MINT_PATHS = {CONSUMER: "/auth/developer", DASHBOARD: "/auth/dashboard"}
READ_TIMEOUT_S = 10.0


def rss_bytes(pid: int) -> int:
    """Resident memory of process ``pid`` (VmRSS of /proc/PID/status), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used so far (/proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@attrs.frozen
class Tenant:
    """One developer of a running broker, seen from outside: tokens and sessions."""

    broker: BrokerProcess
    credentials: DeveloperCredentials

    async def token(self, role: int, user: str = "alice") -> str:
        path = MINT_PATHS.get(role, f"/auth/user?id={user}")
        async with httpx.AsyncClient(base_url=self.broker.http_url) as client:
            response = await client.post(path, headers=self.credentials.headers())
        response.raise_for_status()
        return str(response.json()["token"])

    @asynccontextmanager
    async def session(self, role: int, user: str = "alice", **options: Any) -> AsyncIterator[WebSocketConnection]:
        """An identified WebSocket session (READY read); ``options`` go to open_websocket_url."""
        token = await self.token(role, user)
        async with open_websocket_url(self.broker.ws_url, **options) as ws:
            assert (await receive(ws))["op"] == 2
            await send(ws, {"op": 3, "d": {"token": token, "type": role}})
            ready = await receive(ws)
            assert ready["op"] == 4, ready
            yield ws


async def receive(ws: WebSocketConnection, timeout: float = READ_TIMEOUT_S) -> dict[str, Any]:
    with trio.fail_after(timeout):
        return dict(orjson.loads(await ws.get_message()))


async def send(ws: WebSocketConnection, frame: dict[str, Any]) -> None:
    await ws.send_message(orjson.dumps(frame).decode())


@contextmanager
def broker_with_tenants(
    names: Sequence[str], extra: Sequence[str] = (), data_dir: Path | None = None
) -> Iterator[tuple[BrokerProcess, list[Tenant]]]:
    """A `wearstream broker` process on a SQLite data dir with one developer per name."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="wearstream-tenants-"))
    credentials = create_developers(data_dir, names)
    broker = BrokerProcess.create(data_dir, log_dir=data_dir / "logs", extra=list(extra))
    with broker:
        yield broker, [Tenant(broker, c) for c in credentials]


@attrs.define
class RoundTrips:
    """A tenant's producer-to-consumer round trips, timed, while something else goes on."""

    times: list[float] = attrs.field(factory=list)

    @property
    def worst(self) -> float:
        return max(self.times, default=math.inf)

    async def run(self, tenant: Tenant, *, every: float = 0.05, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled: SUBMIT a reading, time its DISPATCH to the tenant's consumer."""
        async with tenant.session(CONSUMER) as consumer, tenant.session(PRODUCER, "prober") as producer:
            task_status.started()
            n = 0
            while True:
                n += 1
                started = trio.current_time()
                await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n}})
                while True:
                    frame = await receive(consumer)
                    if frame["op"] == 5 and frame["d"]["val"] == n:
                        break
                self.times.append(trio.current_time() - started)
                await trio.sleep(every)
