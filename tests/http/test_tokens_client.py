"""The token client against the real API on a real socket, and against the failures it must tell
apart: refused (fix the credentials) versus unreachable or failing (retry)."""

from __future__ import annotations

import socket

import pytest
import trio
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from wearstream.adapters.http.server import serve_http
from wearstream.adapters.http.tokens_client import (
    TokenApiUnavailable,
    TokenRejected,
    mint_developer_token,
    mint_user_token,
)
from wearstream.domain.identity import Role

from .conftest import Api


async def test_mints_user_and_developer_tokens(api: Api) -> None:
    user_token = await mint_user_token(api.url, api.dev.dev_id, api.dev.api_key, "alice")
    dev_token = await mint_developer_token(api.url + "/", api.dev.dev_id, api.dev.api_key)
    assert api.tokens.tokens[user_token].role is Role.PRODUCER
    assert api.tokens.tokens[user_token].user_id == "alice"
    assert api.tokens.tokens[dev_token].role is Role.CONSUMER


async def test_wrong_credentials_are_rejected_with_the_servers_reason(api: Api) -> None:
    with pytest.raises(TokenRejected) as caught:
        await mint_developer_token(api.url, api.dev.dev_id, "wrong")
    assert caught.value.status == 403
    assert caught.value.reason == "wrong developer id or API key"
    assert not caught.value.retryable


async def test_a_bad_user_id_is_rejected_as_400(api: Api) -> None:
    with pytest.raises(TokenRejected) as caught:
        await mint_user_token(api.url, api.dev.dev_id, api.dev.api_key, "x" * 200)
    assert caught.value.status == 400
    assert "user id" in caught.value.reason


async def test_a_closed_port_is_unavailable_and_retryable() -> None:
    # A bound socket that is not listening: connections to it are refused, and nobody else
    # can take the port while we hold it.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(TokenApiUnavailable) as caught:
            await mint_developer_token(f"http://127.0.0.1:{port}", "dev", "key")
    assert caught.value.status is None
    assert caught.value.retryable
    assert f"127.0.0.1:{port}" in str(caught.value)


def odd_server(entered: trio.Event) -> Starlette:
    async def failing(request) -> Response:
        return PlainTextResponse("database is locked", status_code=503)

    async def no_token(request) -> Response:
        return JSONResponse({"hello": "world"})

    async def silent(request) -> Response:
        entered.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    return Starlette(routes=[
        Route("/failing/auth/developer", failing, methods=["POST"]),
        Route("/other/auth/developer", no_token, methods=["POST"]),
        Route("/silent/auth/developer", silent, methods=["POST"]),
    ])


async def test_server_errors_wrong_servers_and_timeouts(nursery: trio.Nursery) -> None:
    entered = trio.Event()
    port = await nursery.start(
        lambda task_status: serve_http(
            odd_server(entered), "127.0.0.1", 0, graceful_timeout=0.05, task_status=task_status
        )
    )
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(TokenApiUnavailable) as caught:
        await mint_developer_token(url + "/failing", "dev", "key")
    assert (caught.value.status, caught.value.reason) == (503, "database is locked")

    with pytest.raises(TokenRejected, match="without a token"):
        await mint_developer_token(url + "/other", "dev", "key")

    with pytest.raises(TokenApiUnavailable, match="no answer") as caught:
        await mint_developer_token(url + "/silent", "dev", "key", timeout=0.2)
    assert entered.is_set()


@pytest.mark.parametrize("api_url", ["ftp://example.org", "127.0.0.1:8766", ""])
async def test_an_api_url_that_is_not_http_is_rejected(api_url: str) -> None:
    with pytest.raises(TokenRejected, match="API URL"):
        await mint_developer_token(api_url, "dev", "key")


async def test_non_ascii_credentials_are_rejected_before_sending(api: Api) -> None:
    with pytest.raises(TokenRejected, match="ASCII"):
        await mint_developer_token(api.url, "dév", "key")
