"""Producer links over HTTP: a browser tab streams for one user and never sees the API key.

- ``POST /auth/producer-link?id=USER`` (developer credentials, as ``/auth/user``): a single-use
  link ``<base>/produce#link=CODE`` for that user, valid ``link_ttl``. ``<base>`` is the broker's
  public URL when configured (``--public-url``), else the origin the request came to.
- ``POST /produce/session`` with ``{"link": CODE}``: spends the link and answers a producer
  session credential for that user, valid ``session_ttl``.
- ``POST /produce/token`` with ``Authorization: Bearer <session>``: a producer token for that
  user, as ``/auth/user`` would mint; the developer is looked up on every call, so revoking it
  ends every session at once.
- ``POST /dashboard/producer-link-minter`` (developer credentials): a *link minter* for the
  dashboard page, valid ``session_ttl``, taken at sign-in so that the page keeps no API key.
- ``POST /dashboard/producer-link?id=USER`` (``Authorization: Bearer <minter>``, or developer
  credentials): the same link, plus a QR code of it as an SVG data URI, for the dashboard page.

domain/producer_links.py says why a stored code and then a signed session. Every refusal of a
link or session is one 403 with one text (``INVALID``), whatever was wrong.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...domain.errors import CredentialsError
from ...domain.identity import Developer, Role, cli_safe_secret, validate_user_id
from ...domain.producer_links import (
    INVALID,
    LINK_CODE_BYTES,
    MINTER_INVALID,
    LinkCode,
    SessionClaims,
    check_code_shape,
    check_minter,
    check_session,
    mint_minter,
    mint_session,
    minter_developer,
    read_session_claims,
)
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore, LinkCodeStore, TokenStore
from .api import NO_STORE, mint_token, refusal
from .credentials import authenticate
from .qr import svg_data_uri

log = logging.getLogger("wearstream.http")

PRODUCE_PATH = "/produce"
DEFAULT_LINK_TTL = timedelta(minutes=15)
DEFAULT_SESSION_TTL = timedelta(hours=12)
# {"link": CODE} is a few dozen bytes; a larger body is not a redeem request.
MAX_BODY_BYTES = 1024
_ATTEMPTS = 5


class ProducerLinks:
    """The routes and the ports they use. ``secure`` is set when the broker serves TLS itself
    (behind its listener the app sees plain HTTP), so links say https."""

    def __init__(
        self,
        developers: DeveloperStore,
        links: LinkCodeStore,
        tokens: TokenStore,
        clock: Clock,
        *,
        token_ttl: timedelta,
        link_ttl: timedelta = DEFAULT_LINK_TTL,
        session_ttl: timedelta = DEFAULT_SESSION_TTL,
        public_url: str | None = None,
    ) -> None:
        for name, ttl in (("token_ttl", token_ttl), ("link_ttl", link_ttl), ("session_ttl", session_ttl)):
            if ttl <= timedelta(0):
                raise ValueError(f"{name} must be positive, got {ttl}")
        self.developers = developers
        self.links = links
        self.tokens = tokens
        self.clock = clock
        self.token_ttl = token_ttl
        self.link_ttl = link_ttl
        self.session_ttl = session_ttl
        self.public_url = public_url.rstrip("/") if public_url else None
        self.secure = False

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/auth/producer-link", self.auth_producer_link, methods=["POST"]),
            Route("/dashboard/producer-link-minter", self.dashboard_minter, methods=["POST"]),
            Route("/dashboard/producer-link", self.dashboard_producer_link, methods=["POST"]),
            Route("/produce/session", self.session, methods=["POST"]),
            Route("/produce/token", self.token, methods=["POST"]),
        ]

    async def auth_producer_link(self, request: Request) -> Response:
        """``POST /auth/producer-link?id=USER``: ``{"status", "user_id", "url", "link", "expires_in"}``."""
        try:
            developer = await authenticate(request.headers, self.developers)
            return JSONResponse(await self._mint_link(request, developer), headers=NO_STORE)
        except CredentialsError as error:
            return refusal(request, error)

    async def dashboard_minter(self, request: Request) -> Response:
        """``POST /dashboard/producer-link-minter``: ``{"status", "minter", "expires_in"}``, what
        the dashboard's form sends as its bearer (the page drops the key after sign-in)."""
        try:
            developer = await authenticate(request.headers, self.developers)
        except CredentialsError as error:
            return refusal(request, error)
        minter = mint_minter(developer.id, self.clock.now() + self.session_ttl, developer.key_hash)
        expires_in = int(self.session_ttl.total_seconds())
        return JSONResponse({"status": "success", "minter": minter, "expires_in": expires_in}, headers=NO_STORE)

    async def dashboard_producer_link(self, request: Request) -> Response:
        """As ``/auth/producer-link``, plus ``qr_svg``: the URL as a QR code (an SVG data URI).
        Authorised by the page's link minter, or by developer credentials (a script's)."""
        try:
            developer = await self._dashboard_developer(request)
            body = await self._mint_link(request, developer)
        except CredentialsError as error:
            return refusal(request, error)
        return JSONResponse({**body, "qr_svg": svg_data_uri(body["url"])}, headers=NO_STORE)

    async def session(self, request: Request) -> Response:
        """``POST /produce/session`` ``{"link": CODE}``: spend the link, answer a session."""
        try:
            code = check_code_shape(await _link_from_body(request))
            link = await self.links.redeem(code)
            if link is None:
                raise CredentialsError(INVALID)
            link.check(self.clock.now())
            developer = await self._live_developer(link.developer_id)
        except CredentialsError as error:
            return _json_refusal(request, error)
        claims = SessionClaims(developer.id, link.user_id, self.clock.now() + self.session_ttl)
        log.info("producer link redeemed: developer %s user %r", developer.id, link.user_id)
        return JSONResponse(
            {
                "status": "success",
                "user_id": link.user_id,
                "session": mint_session(claims, developer.key_hash),
                "expires_in": int(self.session_ttl.total_seconds()),
            },
            headers=NO_STORE,
        )

    async def token(self, request: Request) -> Response:
        """``POST /produce/token`` with the session as bearer: a producer token for its user."""
        try:
            credential = _bearer(request)
            claims = read_session_claims(credential)
            developer = await self._live_developer(claims.developer_id)
            check_session(credential, developer.key_hash, self.clock.now())
        except CredentialsError as error:
            return _json_refusal(request, error)
        extra = {"status": "success", "user_id": claims.user_id}
        return await mint_token(
            self.tokens, developer, Role.PRODUCER, claims.user_id, self.clock.now(), self.token_ttl, extra
        )

    async def _dashboard_developer(self, request: Request) -> Developer:
        scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return await authenticate(request.headers, self.developers)
        credential = credential.strip()
        developer = await self.developers.get(minter_developer(credential))
        if developer is None or developer.revoked:
            raise CredentialsError(MINTER_INVALID)
        check_minter(credential, developer.key_hash, self.clock.now())
        return developer

    async def _mint_link(self, request: Request, developer: Developer) -> dict[str, Any]:
        user_id = validate_user_id(_one_user_id(request))
        for _ in range(_ATTEMPTS):
            link = LinkCode.mint(
                cli_safe_secret(LINK_CODE_BYTES), developer.id, user_id, self.clock.now(), self.link_ttl
            )
            try:
                await self.links.put(link)
            except KeyError:
                continue  # 128 random bits collided: draw again
            break
        else:
            raise RuntimeError(f"could not find a free producer link code in {_ATTEMPTS} attempts")
        log.info("minted a producer link for developer %s user %r", developer.id, user_id)
        return {
            "status": "success",
            "user_id": user_id,
            "url": f"{self._base(request)}{PRODUCE_PATH}#link={link.code}",
            "link": link.code,
            "expires_in": int(self.link_ttl.total_seconds()),
        }

    async def _live_developer(self, developer_id: str) -> Developer:
        developer = await self.developers.get(developer_id)
        if developer is None or developer.revoked:
            log.info("producer link or session refused: developer %s unknown or revoked", developer_id)
            raise CredentialsError(INVALID)
        return developer

    def _base(self, request: Request) -> str:
        if self.public_url is not None:
            return self.public_url
        scheme = "https" if self.secure or request.url.scheme == "https" else "http"
        return f"{scheme}://{request.url.netloc}"


def _one_user_id(request: Request) -> str:
    values = request.query_params.getlist("id")
    if len(values) != 1:
        raise CredentialsError(f"give exactly one user id (?id=USER), got {len(values)}", malformed=True)
    return values[0]


async def _link_from_body(request: Request) -> object:
    """``link`` of the JSON body; a malformed CredentialsError (400) for anything else."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise CredentialsError(f'send {{"link": CODE}} as JSON, at most {MAX_BODY_BYTES} bytes', malformed=True)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or "link" not in parsed:
        raise CredentialsError('send {"link": CODE} as JSON (the CODE of the link\'s #link=)', malformed=True)
    return parsed["link"]


def _bearer(request: Request) -> str:
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise CredentialsError("send Authorization: Bearer <the session from /produce/session>", malformed=True)
    return credential.strip()


def _json_refusal(request: Request, error: CredentialsError) -> Response:
    """As ``api.refusal``, as JSON for the page: ``{"status": "error", "message": …}``."""
    status = 400 if error.malformed else 403
    log.info("%s %s refused with %d: %s", request.method, request.url.path, status, error.reason)
    return JSONResponse({"status": "error", "message": error.reason}, status_code=status, headers=NO_STORE)
