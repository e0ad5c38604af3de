"""The stream overlay: ``/overlay/<user>?type=HEART_RATE&token=…``, a page for an OBS browser source.

Three routes:

- ``POST /auth/overlay?id=USER[&days=N]`` (developer credentials, like ``/auth/user``): a
  read-only overlay token for that one user (domain/overlay_token.py: signed, reusable, expiring).
- ``GET /overlay/{user}``: the page (``static/overlay.*``, no third-party code), themed by the
  query (``color``, ``size``; validated here, so the page may apply them as they are).
- ``GET /overlay/{user}/latest?type=&token=``: the latest value as JSON, polled by the page
  about once a second (overlay_feed.py says what that holds on the broker, and its bounds).

The API key never reaches the page: the URL carries only the overlay token, which reveals one
user's latest values of the asked data type and nothing else of the developer. A wrong or expired
token gets one answer, 403 with a sentence saying what to do, on the page and on the poll.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone

import trio

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ...domain.datatypes import DataType, Shape, resolve
from ...domain.errors import CredentialsError
from ...domain.identity import validate_user_id
from ...domain.overlay_token import (
    INVALID,
    OverlayClaims,
    check_overlay_token,
    mint_overlay_token,
    read_overlay_claims,
)
from ...ports.clock import Clock
from ...ports.storage import DeveloperStore
from .api import NO_STORE, refusal
from .credentials import authenticate
from .dashboard import STATIC
from .overlay_feed import LiveValues, NoWatcher, TooManyStreams

DEFAULT_DAYS = 30
MAX_DAYS = 365
# The page polls this often (ms); it is told so, so one constant rules both sides.
POLL_MS = 1000
# A value older than this is shown dimmed: the producer stopped or lost its device.
STALE_S = 10
SIZE_PX = (16, 800)
DEFAULT_SIZE = 160
DEFAULT_COLOR = "#ffffff"
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# The 148 named colours of CSS (Color Module Level 4): a name outside them renders in the
# page's default colour without a word, so it is refused like a bad #hex.
CSS_COLOR_NAMES = frozenset("""
    aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue
    blueviolet brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk
    crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki
    darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen
    darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue
    dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite
    gold goldenrod gray green greenyellow grey honeydew hotpink indianred indigo ivory khaki
    lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
    lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen
    lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen
    magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen
    mediumslateblue mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream
    mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
    palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum
    powderblue purple rebeccapurple red rosybrown royalblue saddlebrown salmon sandybrown
    seagreen seashell sienna silver skyblue slateblue slategray slategrey snow springgreen
    steelblue tan teal thistle tomato turquoise violet wheat white whitesmoke yellow
    yellowgreen
""".split())
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never send it anywhere
    **NO_STORE,
}


class Overlay:
    """The overlay's routes and the ports they use."""

    def __init__(self, developers: DeveloperStore, values: LiveValues, clock: Clock) -> None:
        self.developers = developers
        self.values = values
        self.clock = clock

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/auth/overlay", self.auth_overlay, methods=["POST"]),
            Route("/overlay/{user}", self.page, methods=["GET"]),
            Route("/overlay/{user}/latest", self.latest, methods=["GET"]),
            Route("/overlay-static/{name:path}", self.static, methods=["GET"]),
        ]

    async def auth_overlay(self, request: Request) -> Response:
        """``POST /auth/overlay?id=USER[&days=N]``: ``{"token", "expires_at"}``."""
        try:
            developer = await authenticate(request.headers, self.developers)
            user_id = _overlay_user(_one(request, "id", "user id") or "")
            days = _days(_one(request, "days", "number of days"))
        except CredentialsError as error:
            return refusal(request, error)
        expires = self.clock.now() + timedelta(days=days)
        token = mint_overlay_token(OverlayClaims(developer.id, user_id, expires), developer.key_hash)
        return JSONResponse(
            {"token": token, "expires_at": expires.astimezone(timezone.utc).isoformat()},
            headers=NO_STORE,
        )

    async def page(self, request: Request) -> Response:
        """``GET /overlay/{user}``: the page, or 400/403 with the one reason it cannot be shown."""
        try:
            _theme(request)
            _data_type(request)
            await self._check(request)
        except CredentialsError as error:
            return refusal(request, error)
        return FileResponse(STATIC / "overlay.html", headers=PAGE_HEADERS)

    async def static(self, request: Request) -> Response:
        """The page's script and stylesheet (only those two names)."""
        name = request.path_params["name"]
        if name not in ("overlay.js", "overlay.css"):
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(STATIC / name, headers={"X-Content-Type-Options": "nosniff"})

    async def latest(self, request: Request) -> Response:
        """``GET /overlay/{user}/latest?type=&token=``: ``{"value", "unit", "age_s", …}``;
        ``value`` is null until the first reading after the page opened."""
        try:
            dt = _data_type(request)
            claims = await self._check(request)
        except CredentialsError as error:
            status = 400 if error.malformed else 403
            return JSONResponse({"error": error.reason}, status_code=status, headers=NO_STORE)
        label = request.query_params["type"].upper()  # producers send upper-case labels
        try:
            slot = await self.values.latest(claims.developer_id, claims.user_id, label)
        except (TooManyStreams, NoWatcher) as error:
            return JSONResponse({"error": str(error)}, status_code=503, headers={**NO_STORE, "Retry-After": "5"})
        age = None if slot.value is None else max(0.0, trio.current_time() - slot.received)
        return JSONResponse(
            {
                "type": label,
                "unit": dt.unit,
                "value": slot.value,
                "age_s": age,
                "stale_after_s": STALE_S,
                "poll_ms": POLL_MS,
            },
            headers=NO_STORE,
        )

    async def _check(self, request: Request) -> OverlayClaims:
        """The token's claims for the URL's user, or a CredentialsError (403: wrong or expired)."""
        token = _one(request, "token", "overlay token")
        if not token:
            raise CredentialsError(
                "this overlay URL has no ?token=: mint one with `wearstream overlay-url USER`",
                malformed=True,
            )
        claims = read_overlay_claims(token)
        developer = await self.developers.get(claims.developer_id)
        if developer is None or developer.revoked:
            raise CredentialsError(INVALID)
        return check_overlay_token(token, developer.key_hash, request.path_params["user"], self.clock.now())


def _one(request: Request, name: str, what: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise CredentialsError(f"give exactly one {what} (?{name}=), got {len(values)}", malformed=True)
    return values[0] if values else None


def _overlay_user(given: str) -> str:
    """A user id that can be a path segment: ``/`` would be decoded into the path and make
    ``/overlay/a/latest`` ambiguous, so such a user has no overlay (docs/integrations.md)."""
    user_id = validate_user_id(given)
    if "/" in user_id:
        raise CredentialsError(f"user id {user_id[:64]!r} holds '/': it cannot be in an overlay URL", malformed=True)
    return user_id


def _days(given: str | None) -> int:
    if given is None:
        return DEFAULT_DAYS
    if not given.isdigit() or not 1 <= int(given) <= MAX_DAYS:
        raise CredentialsError(f"days must be a whole number from 1 to {MAX_DAYS}", malformed=True)
    return int(given)


def _data_type(request: Request) -> DataType:
    """``?type=``: a data type with one number per reading (HEART_RATE, SPEED, …)."""
    label = _one(request, "type", "data type")
    if label is None:
        raise CredentialsError("give the data type to show: ?type=HEART_RATE", malformed=True)
    dt = resolve(label)
    if dt is None or dt.shape is not Shape.SCALAR:
        raise CredentialsError(
            f"?type={label[:64]!r}: the overlay shows data types with one number per reading, "
            "e.g. HEART_RATE, SPEED, POWER, BIKE_CADENCE",
            malformed=True,
        )
    return dt


def _theme(request: Request) -> tuple[str, int]:
    """``?color=`` (#rgb, #rrggbb, #rrggbbaa or a CSS colour name) and ``?size=`` (pixels)."""
    color = _one(request, "color", "color") or DEFAULT_COLOR
    if not (_HEX_COLOR.fullmatch(color) or color.lower() in CSS_COLOR_NAMES):
        raise CredentialsError(
            f"?color={color[:32]!r}: give #rgb, #rrggbb, #rrggbbaa (write # as %23) or a CSS colour name",
            malformed=True,
        )
    size = _one(request, "size", "size")
    low, high = SIZE_PX
    if size is not None and not (size.isdigit() and low <= int(size) <= high):
        raise CredentialsError(f"?size={size[:32]!r}: give the value's height in pixels, {low}-{high}", malformed=True)
    return color, int(size) if size else DEFAULT_SIZE
