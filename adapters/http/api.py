"""The broker's HTTP API: token minting (Terra's ``/auth/user`` and ``/auth/developer``) and health.

A Starlette app, built by ``build_app`` from the ports it needs, so the broker, the demo and the
tests all get the same app. More routes (dashboard, metrics) are passed in by the composition
root rather than imported here, so this module knows nothing of them.

Browsers. A page served from another origin may call the API only when its origin is one of
``cors_origins`` (``--cors-origin``; none by default): Starlette's CORSMiddleware answers the
preflight and adds the headers; every other origin gets no CORS headers, so the browser keeps the
answer from the page.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Mapping, Sequence, Union

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ...domain.errors import CredentialsError
from ...domain.identity import Developer, Role, Token, cli_safe_secret, validate_user_id
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore, StorageUnavailable, TokenStore
from ..clock import SystemClock
from .credentials import authenticate

log = logging.getLogger("wearstream.http")

HealthInfo = Mapping[str, Any]
Health = Callable[[], Union[HealthInfo, Awaitable[HealthInfo]]]
# Tokens are bearer secrets: no cache (browser, proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
TOKEN_BYTES = 32
# Terra marks ``id`` on /auth/user optional; without it the token binds a new user id like this.
NEW_USER_PREFIX = "user_"
NEW_USER_BYTES = 8
# What a browser on an allowed origin may send, and how long it may cache the preflight's answer.
CORS_HEADERS = ["dev-id", "x-api-key", "authorization", "content-type"]
CORS_MAX_AGE = 600
# A client refused because storage is unavailable may try again after this many seconds.
RETRY_AFTER = 5


def new_token_value() -> str:
    """An opaque token: 32 random bytes, URL-safe base64 (43 characters), never starting with
    "-" (``--token TOKEN``: see ``cli_safe_secret``)."""
    return cli_safe_secret(TOKEN_BYTES)


class TokenApi:
    """The request handlers, holding the ports they use."""

    def __init__(
        self,
        developers: DeveloperStore,
        tokens: TokenStore,
        token_ttl: timedelta,
        clock: Clock,
        health: Health | None,
    ) -> None:
        if token_ttl <= timedelta(0):
            raise ValueError(f"token_ttl must be positive, got {token_ttl}")
        self.developers = developers
        self.tokens = tokens
        self.token_ttl = token_ttl
        self.clock = clock
        self.health_info = health

    async def auth_user(self, request: Request) -> Response:
        """``POST /auth/user?id=<user id>``: a producer token binding that user.

        Terra's reference marks ``id`` optional and says no more; without it the token binds a
        fresh user id (``user_`` and 16 hex digits), which the answer gives beside the token
        (``{"token": …, "user_id": …}``; Terra's clients read only ``token``)."""
        try:
            developer = await authenticate(request.headers, self.developers)
            given = _optional_query_value(request, "id", "user id")
            user_id = new_user_id() if given is None else validate_user_id(given)
        except CredentialsError as error:
            return refusal(request, error)
        extra = {"user_id": user_id} if given is None else {}
        return await mint_token(
            self.tokens, developer, Role.PRODUCER, user_id, self.clock.now(), self.token_ttl, extra
        )

    async def auth_developer(self, request: Request) -> Response:
        """``POST /auth/developer``: a consumer token binding the developer."""
        try:
            developer = await authenticate(request.headers, self.developers)
            return await self._mint(developer, Role.CONSUMER, None)
        except CredentialsError as error:
            return refusal(request, error)

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: 200 with ``status: ok`` and the broker's counters; 503 with
        ``status: degraded`` when the probe reports a ``storage`` problem (the broker still
        serves consumers, but stores nothing new: a load balancer should send producers
        elsewhere), and 503 with ``status: error`` when the probe itself fails."""
        info: dict[str, Any] = {"status": "ok"}
        if self.health_info is not None:
            try:
                extra = self.health_info()
                if inspect.isawaitable(extra):
                    extra = await extra
                info.update(extra)
            except Exception as error:  # a broken probe must answer, not crash the request
                log.exception("health probe failed")
                return JSONResponse({"status": "error", "reason": str(error)}, status_code=503)
            degraded = info.get("storage", {}).get("ok") is False
            info["status"] = "degraded" if degraded else "ok"
            if degraded:
                return JSONResponse(info, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})
        return JSONResponse(info)

    async def _mint(self, developer: Developer, role: Role, user_id: str | None) -> Response:
        return await mint_token(self.tokens, developer, role, user_id, self.clock.now(), self.token_ttl)


async def mint_token(
    tokens: TokenStore,
    developer: Developer,
    role: Role,
    user_id: str | None,
    now: datetime,
    ttl: timedelta,
    extra: Mapping[str, Any] = {},
) -> Response:
    """Mint and store a single-use token, and answer with it (never cached), and ``extra``."""
    token = Token.mint(new_token_value(), role, developer.id, user_id, now, ttl)
    await tokens.put(token)
    log.info(
        "minted a %s token for developer %s%s",
        role.name.lower(),
        developer.id,
        f" user {user_id!r}" if user_id is not None else "",
    )
    return JSONResponse({"token": token.value, **extra}, headers=NO_STORE)


def new_user_id() -> str:
    return NEW_USER_PREFIX + secrets.token_hex(NEW_USER_BYTES)


def _optional_query_value(request: Request, name: str, what: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise CredentialsError(f"give exactly one {what} (?{name}=), got {len(values)}", malformed=True)
    return values[0] if values else None


async def unavailable(request: Request, error: Exception) -> Response:
    """503 when storage cannot serve now (disk full, a lock held too long, Redis refusing
    writes), for every route: the client may retry, nothing was half done."""
    log.warning("%s %s answered 503: %s", request.method, request.url.path, error)
    return PlainTextResponse(
        "storage unavailable, try again later",
        status_code=503,
        headers={**NO_STORE, "Retry-After": str(RETRY_AFTER)},
    )


def refusal(request: Request, error: CredentialsError) -> Response:
    """400 for malformed credentials or query, 403 for wrong ones; the reason in plain text."""
    status = 400 if error.malformed else 403
    log.info("%s %s refused with %d: %s", request.method, request.url.path, status, error.reason)
    return PlainTextResponse(error.reason, status_code=status, headers=NO_STORE)


def build_app(
    developers: DeveloperStore,
    tokens: TokenStore,
    *,
    token_ttl: timedelta,
    clock: Clock | None = None,
    health: Health | None = None,
    routes: Sequence[BaseRoute] = (),
    cors_origins: Sequence[str] = (),
) -> Starlette:
    """The ASGI app of the broker's HTTP side.

    ``health`` (sync or async) returns extra fields for ``/healthz``, e.g. connection counts;
    ``routes`` are appended after the token API's own (dashboard, ``/metrics``);
    ``cors_origins`` are the browser origins allowed to call it (``*`` for any).
    """
    api = TokenApi(developers, tokens, token_ttl, clock or SystemClock(), health)
    own = [
        Route("/auth/user", api.auth_user, methods=["POST"]),
        Route("/auth/developer", api.auth_developer, methods=["POST"]),
        Route("/healthz", api.healthz, methods=["GET"]),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            max_age=CORS_MAX_AGE,
        )
    ] if cors_origins else []
    return Starlette(
        routes=[*own, *routes],
        middleware=middleware,
        exception_handlers={StorageUnavailable: unavailable},
    )
