"""Minting tokens from a broker's HTTP API (producers, consumers and ``wearstream token``).

Failures come in two kinds the caller must treat differently, so they are two error types:
``TokenRejected`` (the credentials are refused, or the URL is not a token API: retrying will not
help) and ``TokenApiUnavailable`` (no connection, a timeout, a 5xx: retry with backoff). Which is
which is decided in ``domain.linkfaults``. Both are ``TokenMintError`` with ``.fault``,
``.status`` (None without an HTTP answer), ``.reason`` and ``.retryable``.
"""

from __future__ import annotations

from typing import Any

import httpx

from ...domain.linkfaults import Fault, FaultKind, LinkHistory
from ..network_faults import network_fault

DEFAULT_TIMEOUT = 10.0
MAX_REASON = 300


class TokenMintError(Exception):
    """A token could not be minted; ``fault`` says how, ``str()`` is the one line for the user
    (what happened, at which URL, what to do: ``linkfaults`` words it)."""

    retryable = False

    def __init__(self, fault: Fault, reason: str | None = None) -> None:
        super().__init__(LinkHistory().decide(fault).message)
        self.fault = fault
        self.reason = fault.detail if reason is None else reason
        self.status = fault.status if fault.kind is FaultKind.TOKEN_API else None


class TokenRejected(TokenMintError):
    """The answer says retrying cannot help (credentials refused, not a token API at this URL)."""


class TokenApiUnavailable(TokenMintError):
    """The broker could not be reached or failed (network error, timeout, 5xx): try again later."""

    retryable = True


def _mint_error(fault: Fault) -> TokenMintError:
    """The error for ``fault``, of the kind ``linkfaults`` sorts it into (as if nothing had worked
    yet: a caller that has minted before decides again with its own ``LinkHistory``)."""
    if LinkHistory().decide(fault).stop:
        return TokenRejected(fault)
    return TokenApiUnavailable(fault)


async def mint_user_token(
    api_url: str,
    dev_id: str,
    api_key: str,
    user_id: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """A producer token for ``user_id`` (``POST /auth/user?id=``)."""
    return await _mint(api_url, "/auth/user", {"id": user_id}, dev_id, api_key, client, timeout)


async def mint_developer_token(
    api_url: str,
    dev_id: str,
    api_key: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """A consumer token for the developer (``POST /auth/developer``)."""
    return await _mint(api_url, "/auth/developer", None, dev_id, api_key, client, timeout)


async def mint_overlay_token(
    api_url: str,
    dev_id: str,
    api_key: str,
    user_id: str,
    days: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """A read-only overlay token for ``user_id``, valid ``days`` (``POST /auth/overlay?id=&days=``)."""
    params = {"id": user_id, "days": str(days)}
    return await _mint(api_url, "/auth/overlay", params, dev_id, api_key, None, timeout)


async def mint_producer_link(
    api_url: str, dev_id: str, api_key: str, user_id: str, *, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """A producer link for ``user_id`` (``POST /auth/producer-link?id=``): the broker's answer,
    ``{"status", "user_id", "url", "link", "expires_in"}``."""
    path, params = "/auth/producer-link", {"id": user_id}
    response, url = await _post(api_url, path, params, dev_id, api_key, None, timeout)
    body = _answer(response, url)
    if not isinstance(body.get("url"), str) or not isinstance(body.get("expires_in"), int):
        raise _mint_error(Fault(FaultKind.NO_TOKEN, url))
    return body


async def _mint(
    api_url: str,
    path: str,
    params: dict[str, str] | None,
    dev_id: str,
    api_key: str,
    client: httpx.AsyncClient | None,
    timeout: float,
) -> str:
    response, url = await _post(api_url, path, params, dev_id, api_key, client, timeout)
    token = _answer(response, url).get("token")
    if not isinstance(token, str) or not token:
        raise _mint_error(Fault(FaultKind.NO_TOKEN, url))
    return token


async def _post(
    api_url: str,
    path: str,
    params: dict[str, str] | None,
    dev_id: str,
    api_key: str,
    client: httpx.AsyncClient | None,
    timeout: float,
) -> tuple[httpx.Response, str]:
    url = endpoint(api_url, path)
    headers = {"dev-id": dev_id, "x-api-key": api_key}
    try:
        if client is not None:
            response = await client.post(url, params=params, headers=headers, timeout=timeout)
        else:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.post(url, params=params, headers=headers)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise _mint_error(_bad(f"bad API URL {api_url!r}: {error}")) from None
    except httpx.TimeoutException:
        # https:// to a port without TLS waits for a TLS answer that never comes
        tls = " (is the server speaking https there? a broker without --certfile speaks http://)"
        detail = f"no answer within {timeout:g} s{tls if url.startswith('https://') else ''}"
        raise _mint_error(Fault(FaultKind.TIMEOUT, url, detail)) from None
    except httpx.TransportError as error:
        fault = network_fault(error, url) or Fault(FaultKind.UNREACHABLE, url, _describe(error))
        raise _mint_error(fault) from None
    except UnicodeError as error:  # httpx encodes header values as ASCII
        raise _mint_error(_bad(f"developer id and API key must be ASCII text: {error}")) from None
    return response, url


def _bad(detail: str) -> Fault:
    return Fault(FaultKind.BAD_SETTING, "", detail)


def endpoint(api_url: str, path: str) -> str:
    """``api_url`` (maybe with a path prefix, behind a proxy) joined with ``path``."""
    api_url = api_url.strip()
    if not api_url.startswith(("http://", "https://")):
        raise _mint_error(_bad(f"the API URL must start with http:// or https://, got {api_url!r}"))
    return api_url.rstrip("/") + path


def _answer(response: httpx.Response, url: str) -> dict[str, Any]:
    """The JSON object of a 200 answer; a TokenMintError for any other status or body."""
    status = response.status_code
    if status != 200:
        raise _mint_error(Fault(FaultKind.TOKEN_API, url, _reason(response), status))
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _mint_error(Fault(FaultKind.NO_TOKEN, url))
    return body


def _reason(response: httpx.Response) -> str:
    """The server's plain-text reason; empty when it gave none (the broker's API always does)."""
    return " ".join(response.text.split())[:MAX_REASON]


def _describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
