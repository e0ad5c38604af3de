"""The producer page: ``/produce``, a browser tab streaming a Bluetooth strap to the broker.

The page (``static/produce.*`` and ``static/gatt.js``, no third-party code) ships inside the
package and is served on the broker's one origin, so it reaches ``/connect`` and the producer-link
endpoints (``/produce/session``, ``/produce/token``: producer_links.py) without CORS. It speaks
Web Bluetooth to the strap, decodes values with gatt.js (the twin of adapters/ble/decoders, held
to it by shared test vectors), keeps readings in IndexedDB until the broker acknowledges them, and
submits them as the Python producer does (docs/web-producer.md).

No secret is in the URL for long: the page reads ``#link=CODE`` (a fragment, never sent to the
server or in a Referer), redeems it, and removes it from the address bar.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from .api import NO_STORE
from .dashboard import STATIC

PATH = "/produce"
STATIC_PATH = "/produce-static"
# The files the page loads; nothing else is served under STATIC_PATH.
ASSETS = {"produce.js", "produce.css", "gatt.js"}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    **NO_STORE,
}


class ProducerPage:
    """The page's routes (the credential endpoints are the producer links')."""

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PATH, self.page, methods=["GET"]),
            Route(STATIC_PATH + "/{name}", self.asset, methods=["GET"]),
        ]

    async def page(self, request: Request) -> Response:
        """``GET /produce``: the page."""
        return FileResponse(STATIC / "produce.html", headers=PAGE_HEADERS)

    async def asset(self, request: Request) -> Response:
        """The page's scripts and stylesheet (only those names)."""
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
