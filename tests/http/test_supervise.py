"""The HTTP server is started again when it fails, so the broker is never left without its API;
a server that cannot start at all is reported to the caller."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from wearstream.adapters.http.server import supervise


async def test_a_server_that_fails_is_started_again(autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture) -> None:
    starts: list[bool] = []

    async def start(first: bool, task_status: trio.TaskStatus[Any]) -> None:
        starts.append(first)
        task_status.started(8080)
        if len(starts) < 3:
            raise RuntimeError(f"hypercorn failed ({len(starts)})")
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        assert await nursery.start(supervise, start) == 8080
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    assert starts == [True, False, False]
    assert "the HTTP server failed (RuntimeError('hypercorn failed (2)'))" in caplog.text


async def test_a_server_that_cannot_start_is_reported() -> None:
    async def start(first: bool, task_status: trio.TaskStatus[Any]) -> None:
        raise OSError("cannot listen")

    async with trio.open_nursery() as nursery:
        with pytest.raises(OSError, match="cannot listen"):
            await nursery.start(supervise, start)
