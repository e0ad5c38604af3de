"""`wearstream producer-link USER`: a single-use link that streams a phone's strap as USER.

The command mints a producer link (``POST /auth/producer-link?id=USER``) and prints its URL and a
QR code of it for the phone's camera; ``--json`` prints the broker's answer instead. The API key
stays here: the link carries only a short-lived, single-use code (docs/web-producer.md).
Credentials as for ``wearstream token``: ``--dev-id``/``--api-key`` or, better,
WEARSTREAM_DEV_ID / WEARSTREAM_API_KEY. The URL's address is the ``--api-url`` given, unless the
broker has a ``--public-url``: give the address the phone can reach, not 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys

from .config import Commands
from .token import DEFAULT_API_URL
from .values import seconds

COMMAND = "producer-link"


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="print a single-use link (URL and QR code) that streams a phone's strap as USER",
        description="Mint a producer link for USER and print its URL and a QR code. Opened on a "
        "phone, the broker's /produce page streams a Bluetooth strap as USER, without the API key. "
        "Every option also reads WEARSTREAM_<OPTION> (WEARSTREAM_API_URL, WEARSTREAM_DEV_ID, "
        "WEARSTREAM_API_KEY, ...).",
    )
    parser.add_argument("user", metavar="USER", help="the user the phone streams as")
    parser.add_argument(
        "--api-url", default=DEFAULT_API_URL, metavar="URL",
        help=f"the broker's HTTP API, as the phone will reach it (default {DEFAULT_API_URL})",
    )
    parser.add_argument("--dev-id", default=None, metavar="ID", help="developer id (env WEARSTREAM_DEV_ID)")
    parser.add_argument(
        "--api-key", default=None, metavar="KEY",
        help="API key (prefer env WEARSTREAM_API_KEY: a command line is visible to others)",
    )
    parser.add_argument(
        "--json", action="store_true",
        help="print the broker's answer as one JSON line (url, link, expires_in), no QR code (default: off)",
    )
    parser.add_argument(
        "--timeout", type=seconds(3600), default=10.0, metavar="S", help="give up after this many seconds (default 10)"
    )
    parser.set_defaults(func=run)


def _fail(message: str, code: int = 1) -> int:
    print(f"wearstream {COMMAND}: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    import trio

    from ..adapters.http.tokens_client import TokenMintError, mint_producer_link

    missing = [
        f"--{name.replace('_', '-')} (or WEARSTREAM_{name.upper()})"
        for name in ("dev_id", "api_key")
        if not getattr(args, name)
    ]
    if missing:
        return _fail("missing " + ", ".join(missing), 2)
    try:
        answer = trio.run(
            lambda: mint_producer_link(args.api_url, args.dev_id, args.api_key, args.user, timeout=args.timeout)
        )
    except TokenMintError as error:  # its one line says what to do
        return _fail(f"{error} (try again later)" if error.retryable else str(error))
    if args.json:
        print(json.dumps(answer), flush=True)
        return 0
    from ..adapters.http.qr import terminal_lines

    minutes = max(1, round(answer["expires_in"] / 60))
    print(terminal_lines(answer["url"]), end="")
    print(answer["url"])
    print(f"Open it on the phone within {minutes} min; it works once, for user {answer['user_id']!r}.", flush=True)
    return 0
