"""Minting tokens from a broker's HTTP API (producers, consumers and ``wearstream token``).

Failures come in two kinds the caller must treat differently, so they are two error types:
``TokenRejected`` (a 4xx: the credentials or the user id are wrong; retrying will not help) and
``TokenApiUnavailable`` (no connection, a timeout or a 5xx: retry with backoff). Both are
``TokenMintError`` with ``.status`` (None without an HTTP answer), ``.reason`` and ``.retryable``.
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_TIMEOUT = 10.0
MAX_REASON = 300


class TokenMintError(Exception):
    """A token could not be minted."""

    retryable = False

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason if status is None else f"HTTP {status}: {reason}")
        self.reason = reason
        self.status = status


class TokenRejected(TokenMintError):
    """The broker refused (400 malformed, 403 wrong or revoked): fix the credentials or user id."""


class TokenApiUnavailable(TokenMintError):
    """The broker could not be reached or failed (network error, timeout, 5xx): try again later."""

    retryable = True


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


async def _mint(
    api_url: str,
    path: str,
    params: dict[str, str] | None,
    dev_id: str,
    api_key: str,
    client: httpx.AsyncClient | None,
    timeout: float,
) -> str:
    url = endpoint(api_url, path)
    headers = {"dev-id": dev_id, "x-api-key": api_key}
    try:
        if client is not None:
            response = await client.post(url, params=params, headers=headers, timeout=timeout)
        else:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.post(url, params=params, headers=headers)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
        raise TokenRejected(f"bad API URL {api_url!r}: {error}") from None
    except httpx.TimeoutException:
        raise TokenApiUnavailable(f"no answer from {url} within {timeout:g} s") from None
    except httpx.TransportError as error:
        raise TokenApiUnavailable(f"cannot reach {url}: {_describe(error)}") from None
    except UnicodeError as error:  # httpx encodes header values as ASCII
        raise TokenRejected(f"developer id and API key must be ASCII text: {error}") from None
    return _token_from(response, url)


def endpoint(api_url: str, path: str) -> str:
    """``api_url`` (maybe with a path prefix, behind a proxy) joined with ``path``."""
    api_url = api_url.strip()
    if not api_url.startswith(("http://", "https://")):
        raise TokenRejected(f"API URL must start with http:// or https://, got {api_url!r}")
    return api_url.rstrip("/") + path


def _token_from(response: httpx.Response, url: str) -> str:
    status = response.status_code
    if 400 <= status < 500:
        raise TokenRejected(_reason(response), status)
    if status != 200:
        raise TokenApiUnavailable(_reason(response), status)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenRejected(f"{url} answered 200 without a token: is this a wearstream broker?", status)
    return token


def _reason(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    if not text:
        text = response.reason_phrase or "no reason given"
    return text[:MAX_REASON]


def _describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
