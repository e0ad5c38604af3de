"""serve_http: real hypercorn on real sockets — port 0, a clear error for a busy port, and a
graceful shutdown when the caller's scope is cancelled."""

from __future__ import annotations

import socket

import httpx
import pytest
import trio
import trio.testing
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from wearstream.adapters.http.server import HttpBindError, serve_http


def hello_app(entered: trio.Event | None = None, release: trio.Event | None = None) -> Starlette:
    async def hello(request) -> PlainTextResponse:
        if entered is not None and release is not None:
            entered.set()
            await release.wait()
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/", hello)])


async def test_port_zero_reports_the_bound_port(nursery: trio.Nursery) -> None:
    first = await nursery.start(serve_http, hello_app(), "127.0.0.1", 0)
    second = await nursery.start(serve_http, hello_app(), "127.0.0.1", 0)
    assert first != second and 0 not in (first, second)
    async with httpx.AsyncClient(timeout=10) as client:
        for port in (first, second):
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hello"


async def test_a_busy_port_fails_with_a_message_naming_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(HttpBindError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve_http(hello_app(), "127.0.0.1", port)


async def test_cancelling_stops_serving_and_lets_requests_in_flight_finish() -> None:
    entered, release = trio.Event(), trio.Event()
    answers: list[httpx.Response] = []
    async with httpx.AsyncClient(timeout=10) as client, trio.open_nursery() as outer:
        server_scope = trio.CancelScope()
        stopped = trio.Event()

        async def run_server(*, task_status: trio.TaskStatus[int]) -> None:
            with server_scope:
                await serve_http(hello_app(entered, release), "127.0.0.1", 0, task_status=task_status)
            stopped.set()

        port = await outer.start(run_server)
        url = f"http://127.0.0.1:{port}/"

        async def slow_request() -> None:
            answers.append(await client.get(url))

        outer.start_soon(slow_request)
        await entered.wait()
        server_scope.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert not stopped.is_set(), "the server must wait for the request in flight"
        release.set()
        await stopped.wait()
    assert [a.text for a in answers] == ["hello"]
    async with httpx.AsyncClient(timeout=10) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


async def test_a_stuck_request_cannot_hold_shutdown_up() -> None:
    entered, never = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            lambda task_status: serve_http(
                hello_app(entered, never), "127.0.0.1", 0, graceful_timeout=0.05, task_status=task_status
            )
        )

        async def stuck_request() -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                with pytest.raises(httpx.HTTPError):
                    await client.get(f"http://127.0.0.1:{port}/")

        nursery.start_soon(stuck_request)
        await entered.wait()
        nursery.cancel_scope.cancel()
