"""Where a producer gets its single-use tokens: one per connection attempt.

Three providers, one for each way of running a producer, and ``DeveloperTokenProvider`` for
the consumer:

- ``FixedTokenProvider`` (``--token T``): one token handed in by hand, good for one connection.
- ``ApiTokenProvider`` (``--dev-id/--api-key``): mints from the broker's HTTP API. Development
  only: it puts the developer's API key on the edge device.
- ``CommandTokenProvider`` (``--token-command CMD``): runs a command that prints a token, e.g. a
  ``curl`` to the app's own backend, which holds the API key and decides which user may stream.
  This is the production setup, as with Terra, whose API key never leaves the backend.

Each raises ``TokenUnavailable`` (try again after a backoff) or ``CredentialsError`` (stop:
retrying cannot help), so the link decides without knowing where tokens come from.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, Coroutine

import trio

from ...domain.errors import CredentialsError, TokenUnavailable
from ...domain.linkfaults import LinkHistory
from .tokens_client import TokenMintError, mint_developer_token, mint_user_token

COMMAND_TIMEOUT = 10.0
MAX_SHOWN = 300


class FixedTokenProvider:
    """Hands out its one token once: the broker consumes a token on IDENTIFY, so a second
    connection with it would only be refused (4001). The link asks for a token only once it is
    about to IDENTIFY, so a connection that failed earlier does not use it up."""

    def __init__(self, token: str) -> None:
        if not token.strip():
            raise ValueError("the token is empty")
        self._token: str | None = token.strip()

    async def token(self) -> str:
        if self._token is None:
            raise CredentialsError(
                "the one --token went to the first connection (tokens are single use; if the "
                "broker refused it, the line before says why); to reconnect by itself the "
                "producer needs --token-command or --dev-id/--api-key"
            )
        token, self._token = self._token, None
        return token


class ApiTokenProvider:
    """Mints producer tokens for one user from the broker's HTTP API (``POST /auth/user``)."""

    def __init__(self, api_url: str, dev_id: str, api_key: str, user_id: str) -> None:
        self.api_url = api_url
        self._dev_id = dev_id
        self._api_key = api_key
        self.user_id = user_id
        self._history = LinkHistory()  # whether this API URL has worked: see domain.linkfaults

    async def token(self) -> str:
        mint = mint_user_token(self.api_url, self._dev_id, self._api_key, self.user_id)
        return await _minted(mint, self._history)


class DeveloperTokenProvider:
    """Mints consumer tokens for the developer from the broker's HTTP API
    (``POST /auth/developer``): the consumer holds the API key, as Terra's backend does."""

    def __init__(self, api_url: str, dev_id: str, api_key: str) -> None:
        self.api_url = api_url
        self._dev_id = dev_id
        self._api_key = api_key
        self._history = LinkHistory()

    async def token(self) -> str:
        mint = mint_developer_token(self.api_url, self._dev_id, self._api_key)
        return await _minted(mint, self._history)


async def _minted(mint: Coroutine[Any, Any, str], history: LinkHistory) -> str:
    """The minted token, or the failure as the port's two errors (``linkfaults`` decides which)."""
    try:
        token = await mint
    except TokenMintError as error:
        decision = history.decide(error.fault)
        if decision.stop:
            raise CredentialsError(decision.message) from None
        raise TokenUnavailable(decision.message) from None
    history.ready()
    return token


class CommandTokenProvider:
    """Runs ``command`` through the shell; its standard output, stripped, is the token.

    The command gets ``WEARSTREAM_USER_ID`` in its environment, so one script can serve several
    producers. A command that fails, hangs past ``timeout`` or prints nothing gives
    TokenUnavailable: the backend it asks may be down for a while, and the producer keeps its
    samples in the outbox meanwhile.
    """

    def __init__(self, command: str, user_id: str, *, timeout: float = COMMAND_TIMEOUT) -> None:
        if not command.strip():
            raise ValueError("the token command is empty")
        self.command = command
        self.user_id = user_id
        self.timeout = timeout

    async def token(self) -> str:
        env = {**os.environ, "WEARSTREAM_USER_ID": self.user_id}
        try:
            with trio.fail_after(self.timeout):
                result = await trio.run_process(
                    self.command, shell=True, capture_stdout=True, capture_stderr=True,
                    stdin=subprocess.DEVNULL, check=False, env=env,
                )
        except trio.TooSlowError:
            raise TokenUnavailable(
                f"token command gave no token within {self.timeout:g} s: {self.command}"
            ) from None
        except OSError as error:  # the shell itself could not be started
            raise TokenUnavailable(f"cannot run the token command: {error}") from None
        return _token_from(self.command, result)


# The shell's own exit statuses for a command it could not run at all: not executable (126),
# not found (127). Running it again cannot help, so the producer stops with the hint.
_CANNOT_RUN = {126: "is not executable", 127: "was not found"}


def _token_from(command: str, result: subprocess.CompletedProcess[bytes]) -> str:
    if result.returncode in _CANNOT_RUN:
        raise CredentialsError(
            f"the token command {_CANNOT_RUN[result.returncode]} ({_shown(result.stderr) or command}); "
            "fix --token-command (a command line the shell can run, printing one token)"
        )
    if result.returncode != 0:
        stderr = _shown(result.stderr) or "nothing on stderr"
        raise TokenUnavailable(f"token command exited {result.returncode}: {stderr}")
    token = result.stdout.decode(errors="replace").strip()
    if not token:
        raise TokenUnavailable(f"token command printed no token: {command}")
    if len(token.split()) != 1:
        raise TokenUnavailable(f"token command printed several words, a token is one: {command}")
    return token


def _shown(data: bytes) -> str:
    return " ".join(data.decode(errors="replace").split())[:MAX_SHOWN]
