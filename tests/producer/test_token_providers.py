"""Token providers: a real shell command, and the real HTTP API of an in-process broker."""

from __future__ import annotations

import pytest

from wearstream.adapters.http.token_providers import (
    ApiTokenProvider,
    CommandTokenProvider,
    FixedTokenProvider,
)
from wearstream.domain.errors import CredentialsError, TokenUnavailable
from wearstream.testing.fixtures import LiveBroker

from .conftest import USER


async def test_the_command_output_stripped_is_the_token() -> None:
    provider = CommandTokenProvider("printf '  tok-%s\\n\\n' \"$WEARSTREAM_USER_ID\"", "u7")
    assert await provider.token() == "tok-u7"


async def test_each_call_runs_the_command_again(tmp_path) -> None:
    counter = tmp_path / "n"
    provider = CommandTokenProvider(f"echo x >> {counter}; wc -l < {counter}", USER)
    assert [await provider.token() for _ in range(3)] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo 'backend down' >&2; exit 3", "exited 3: backend down"),
        ("true", "printed no token"),
        ("echo two words", "several words"),
    ],
)
async def test_a_failing_command_means_try_again_later(command: str, message: str) -> None:
    with pytest.raises(TokenUnavailable, match=message):
        await CommandTokenProvider(command, USER).token()


@pytest.mark.parametrize(
    ("command", "message"),
    [("no-such-command-wearstream", "was not found"), ("/dev/null", "is not executable")],
)
async def test_a_command_the_shell_cannot_run_is_a_misconfiguration(command: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):  # the producer stops with the hint
        await CommandTokenProvider(command, USER).token()


async def test_a_hanging_command_is_given_up() -> None:
    with pytest.raises(TokenUnavailable, match="within 0.2 s"):
        await CommandTokenProvider("sleep 5", USER, timeout=0.2).token()


async def test_a_fixed_token_is_handed_out_once() -> None:
    provider = FixedTokenProvider(" tok ")
    assert await provider.token() == "tok"
    with pytest.raises(CredentialsError, match="single use"):
        await provider.token()


async def test_the_api_mints_working_tokens(broker: LiveBroker) -> None:
    provider = broker.token_provider(USER)
    first, second = await provider.token(), await provider.token()
    assert first != second
    token = await broker.running.stores.tokens.take(first)
    assert token is not None and token.user_id == USER


async def test_wrong_credentials_stop(broker: LiveBroker) -> None:
    provider = ApiTokenProvider(broker.api_url, broker.dev_id, "wrong-key", USER)
    with pytest.raises(CredentialsError, match="403"):
        await provider.token()


async def test_an_unreachable_api_means_try_again_later() -> None:
    provider = ApiTokenProvider("http://127.0.0.1:9", "dev", "key", USER)
    with pytest.raises(TokenUnavailable, match="connection refused"):
        await provider.token()
