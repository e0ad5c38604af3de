"""A plain WebSocket consumer for tests of a broker process: it records every DISPATCH, heartbeats,
asks for REPLAYs, and remembers how its connection ended, with no wearstream client code between
the test and the wire (so what it sees is what any Terra client would see).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from ..adapters.http.tokens_client import mint_developer_token
from .broker_process import DeveloperCredentials

HEARTBEAT_S = 5.0
POLL_S = 0.01


@attrs.define
class RawConsumer:
    """``await nursery.start(consumer.run)`` returns once READY arrived; ``seqs`` grows with
    every DISPATCH (live or replayed); ``closed`` is ``(code, reason)`` once the broker closed."""

    ws_url: str
    api_url: str
    dev: DeveloperCredentials
    dispatches: list[dict[str, Any]] = attrs.field(factory=list)
    closed: tuple[int | None, str] | None = None
    ws: WebSocketConnection | None = None

    @property
    def seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.dispatches]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        token = await mint_developer_token(self.api_url, self.dev.dev_id, self.dev.api_key)
        async with open_websocket_url(self.ws_url, disconnect_timeout=1) as ws:
            self.ws = ws
            try:
                assert json.loads(await ws.get_message())["op"] == 2  # HELLO
                await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 1}}))
                ready = json.loads(await ws.get_message())
                assert ready["op"] == 4, ready
                task_status.started()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._heartbeat, ws)
                    await self._read(ws)
                    nursery.cancel_scope.cancel()
            except* ConnectionClosed as group:
                self.closed = close_reason(group)

    async def _read(self, ws: WebSocketConnection) -> None:
        while True:
            frame = json.loads(await ws.get_message())
            if frame.get("op") == 5:
                self.dispatches.append(frame)

    async def _heartbeat(self, ws: WebSocketConnection) -> None:
        while True:
            await trio.sleep(HEARTBEAT_S)
            await ws.send_message('{"op": 0}')

    async def replay(self, after: int, before: int) -> None:
        assert self.ws is not None, "not connected"
        await self.ws.send_message(json.dumps({"op": 7, "d": {"after": after, "before": before}}))

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` DISPATCH frames have arrived in all (fails the test after ``timeout``)."""
        with trio.fail_after(timeout):
            while len(self.dispatches) < count:
                await trio.sleep(POLL_S)


def close_reason(error: BaseException) -> tuple[int | None, str]:
    """``(code, reason)`` of the first ConnectionClosed in ``error`` (maybe inside groups)."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, ConnectionClosed), error
    return error.reason.code, error.reason.reason or ""
