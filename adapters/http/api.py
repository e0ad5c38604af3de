"""The broker's HTTP API: token minting (Terra's ``/auth/user`` and ``/auth/developer``) and health.

A Starlette app, built by ``build_app`` from the ports it needs, so the broker, the demo and the
tests all get the same app. More routes (dashboard, metrics) are passed in by the composition
root rather than imported here, so this module knows nothing of them.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Mapping, Sequence, Union

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ...domain.errors import CredentialsError
from ...domain.identity import Developer, Role, Token, validate_user_id
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore, TokenStore
from ..clock import SystemClock
from .credentials import authenticate

log = logging.getLogger("wearstream.http")

HealthInfo = Mapping[str, Any]
Health = Callable[[], Union[HealthInfo, Awaitable[HealthInfo]]]
# Tokens are bearer secrets: no cache (browser, proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
TOKEN_BYTES = 32


def new_token_value() -> str:
    """An opaque token: 32 random bytes, URL-safe base64 (43 characters), never starting with
    "-", so that ``wearstream producer --token TOKEN`` reads it as the value (1 token in 64 would
    otherwise be taken for an option)."""
    while (token := secrets.token_urlsafe(TOKEN_BYTES)).startswith("-"):
        pass
    return token


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
        """``POST /auth/user?id=<user id>``: a producer token binding that user."""
        try:
            developer = await authenticate(request.headers, self.developers)
            user_id = validate_user_id(_single_query_value(request, "id", "user id"))
            return await self._mint(developer, Role.PRODUCER, user_id)
        except CredentialsError as error:
            return refusal(request, error)

    async def auth_developer(self, request: Request) -> Response:
        """``POST /auth/developer``: a consumer token binding the developer."""
        try:
            developer = await authenticate(request.headers, self.developers)
            return await self._mint(developer, Role.CONSUMER, None)
        except CredentialsError as error:
            return refusal(request, error)

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: 200 with ``status: ok`` and the broker's counters, 503 if those fail."""
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
            info["status"] = "ok"
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
) -> Response:
    """Mint and store a single-use token, and answer with it (never cached)."""
    token = Token.mint(new_token_value(), role, developer.id, user_id, now, ttl)
    await tokens.put(token)
    log.info(
        "minted a %s token for developer %s%s",
        role.name.lower(),
        developer.id,
        f" user {user_id!r}" if user_id is not None else "",
    )
    return JSONResponse({"token": token.value}, headers=NO_STORE)


def _single_query_value(request: Request, name: str, what: str) -> str:
    values = request.query_params.getlist(name)
    if not values:
        raise CredentialsError(
            f"missing {what}: POST {request.url.path}?{name}=<{what}>", malformed=True
        )
    if len(values) > 1:
        raise CredentialsError(f"give exactly one {what} (?{name}=), got {len(values)}", malformed=True)
    return values[0]


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
) -> Starlette:
    """The ASGI app of the broker's HTTP side.

    ``health`` (sync or async) returns extra fields for ``/healthz``, e.g. connection counts;
    ``routes`` are appended after the token API's own (dashboard, ``/metrics``).
    """
    api = TokenApi(developers, tokens, token_ttl, clock or SystemClock(), health)
    own = [
        Route("/auth/user", api.auth_user, methods=["POST"]),
        Route("/auth/developer", api.auth_developer, methods=["POST"]),
        Route("/healthz", api.healthz, methods=["GET"]),
    ]
    return Starlette(routes=[*own, *routes])
