"""The live dashboard: a page served at ``/`` by the broker's HTTP port, and what the page needs.

The page (``static/``: HTML, one script, one stylesheet, no third-party code) ships inside the
package. It asks for a dashboard token with the developer's credentials (``POST /auth/dashboard``,
the same checks as ``/auth/developer``), learns the WebSocket URL from ``/dashboard/config``,
and then speaks the ordinary protocol with IDENTIFY type 2 (docs/protocol.md). The API key is
only ever in the sign-in request: a dashboard token is single use and cannot mint another.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ...domain.errors import CredentialsError
from ...domain.identity import Role
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore, TokenStore
from ..websocket.handshake import PATH as WS_PATH
from .api import mint_token, refusal
from .credentials import authenticate

STATIC = Path(__file__).with_name("static")
# The page loads nothing from anywhere else, and nothing may frame it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The page redeems its token at once; a short life keeps a leaked one nearly worthless.
DASHBOARD_TOKEN_TTL = timedelta(seconds=60)


class Dashboard:
    """The page's routes. ``ws_port`` is set once the WebSocket server is listening, and
    ``secure`` when it serves TLS (behind the broker's listener the app itself sees plain HTTP)."""

    def __init__(
        self,
        developers: DeveloperStore,
        tokens: TokenStore,
        clock: Clock,
        token_ttl: timedelta = DASHBOARD_TOKEN_TTL,
    ) -> None:
        self.developers = developers
        self.tokens = tokens
        self.clock = clock
        self.token_ttl = token_ttl
        self.ws_port: int | None = None
        self.secure = False

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/favicon.ico", self.favicon, methods=["GET"]),
            Route("/dashboard/config", self.config, methods=["GET"]),
            Route("/auth/dashboard", self.auth_dashboard, methods=["POST"]),
            Mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static"),
        ]

    async def page(self, request: Request) -> Response:
        """``GET /``: the dashboard page."""
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    async def favicon(self, request: Request) -> Response:
        """``GET /favicon.ico``: the page's icon (browsers ask for it at this path)."""
        return FileResponse(
            STATIC / "favicon.ico",
            media_type="image/x-icon",
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    async def config(self, request: Request) -> Response:
        """``GET /dashboard/config``: where the page's WebSocket goes (the host the browser used)."""
        if self.ws_port is None:
            return JSONResponse({"error": "the WebSocket server is not listening yet"}, status_code=503)
        host = request.url.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        scheme = "wss" if self.secure or request.url.scheme == "https" else "ws"
        return JSONResponse({"ws_url": f"{scheme}://{host}:{self.ws_port}{WS_PATH}"})

    async def auth_dashboard(self, request: Request) -> Response:
        """``POST /auth/dashboard``: a single-use dashboard token (IDENTIFY type 2)."""
        try:
            developer = await authenticate(request.headers, self.developers)
        except CredentialsError as error:
            return refusal(request, error)
        return await mint_token(
            self.tokens, developer, Role.DASHBOARD, None, self.clock.now(), self.token_ttl
        )
