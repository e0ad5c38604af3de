"""`wearstream overlay-url USER`: mint a read-only overlay token and print the URL to paste into OBS.

The URL (``/overlay/<user>?type=…&token=…``) shows one user's live value and nothing else of the
developer; the API key never goes into it. Before printing, the command loads the URL once, so a
colour, size or type the broker would refuse is reported now, not in the middle of a stream.
Credentials as for ``wearstream token``: ``--dev-id``/``--api-key`` or, better,
WEARSTREAM_DEV_ID / WEARSTREAM_API_KEY.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import quote, urlencode

from .config import Commands
from .token import DEFAULT_API_URL
from .values import integer, seconds

COMMAND = "overlay-url"


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="print an OBS browser-source URL showing one user's live heart rate (or another value)",
        description="Mint a read-only overlay token for USER and print the overlay URL. Every option "
        "also reads WEARSTREAM_<OPTION> (WEARSTREAM_API_URL, WEARSTREAM_DEV_ID, WEARSTREAM_API_KEY, ...).",
    )
    parser.add_argument("user", metavar="USER", help="the user whose value the overlay shows")
    parser.add_argument(
        "--type", default="HEART_RATE", metavar="TYPE",
        help="the data type shown, one number per reading (default HEART_RATE; SPEED, POWER, ...)",
    )
    parser.add_argument("--color", default=None, metavar="COLOR", help="#rrggbb or a CSS colour name (default white)")
    parser.add_argument("--size", type=integer(16, 800), default=None, metavar="PX", help="the value's height in pixels (default 160)")
    parser.add_argument(
        "--days", type=integer(1, 365), default=30, metavar="N",
        help="the URL stops working after this many days (%(default)s); revoking the developer "
        "stops it at once",
    )
    parser.add_argument(
        "--api-url", default=DEFAULT_API_URL, metavar="URL",
        help=f"the broker's HTTP API as OBS will reach it (default {DEFAULT_API_URL})",
    )
    parser.add_argument("--dev-id", default=None, metavar="ID", help="developer id (env WEARSTREAM_DEV_ID)")
    parser.add_argument(
        "--api-key", default=None, metavar="KEY",
        help="API key (prefer env WEARSTREAM_API_KEY: a command line is visible to others)",
    )
    parser.add_argument(
        "--timeout", type=seconds(3600), default=10.0, metavar="S", help="give up after this many seconds (default 10)"
    )
    parser.set_defaults(func=run)


def _fail(message: str, code: int = 1) -> int:
    print(f"wearstream {COMMAND}: {message}", file=sys.stderr)
    return code


def overlay_url(api_url: str, user: str, token: str, args: argparse.Namespace) -> str:
    from ..adapters.http.tokens_client import endpoint

    query = {"type": args.type, "token": token}
    if args.color:
        query["color"] = args.color
    if args.size:
        query["size"] = str(args.size)
    return f"{endpoint(api_url, '/overlay/' + quote(user, safe=''))}?{urlencode(query)}"


def run(args: argparse.Namespace) -> int:
    import httpx
    import trio

    from ..adapters.http.tokens_client import TokenMintError, mint_overlay_token

    missing = [
        f"--{name.replace('_', '-')} (or WEARSTREAM_{name.upper()})"
        for name in ("dev_id", "api_key")
        if not getattr(args, name)
    ]
    if missing:
        return _fail("missing " + ", ".join(missing), 2)

    async def mint_and_try() -> tuple[str, httpx.Response]:
        token = await mint_overlay_token(
            args.api_url, args.dev_id, args.api_key, args.user, args.days, timeout=args.timeout
        )
        url = overlay_url(args.api_url, args.user, token, args)
        async with httpx.AsyncClient(timeout=args.timeout) as client:
            return url, await client.get(url)

    try:
        url, tried = trio.run(mint_and_try)
    except TokenMintError as error:
        advice = "try again later" if error.retryable else "check the options"
        return _fail(f"{error} ({advice})")
    except httpx.HTTPError as error:
        return _fail(f"the broker minted the token but its overlay page did not answer: {error}")
    if tried.status_code != 200:
        return _fail(f"the broker refuses this overlay: {tried.text.strip()[:300]}", 2)
    print(url, flush=True)
    return 0
