"""`wearstream token user|developer`: mint a producer or consumer token and print just the token.

Meant for scripts: ``TOKEN=$(wearstream token user --user-id alice)``. Credentials come from
``--dev-id``/``--api-key`` or, better (a command line is visible to other users of the machine),
from WEARSTREAM_DEV_ID / WEARSTREAM_API_KEY. The options are declared on ``token`` itself (so they
get env and TOML defaults) and again on each kind with a suppressed default, so they may be
written before or after it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .config import Commands
from .values import seconds

COMMAND = "token"
DEFAULT_API_URL = "http://127.0.0.1:8765"  # the broker's one port serves the HTTP API too


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="mint a producer (user) or consumer (developer) token; prints only the token",
        description="Mint a single-use token from a broker's HTTP API. Every option also reads "
        "WEARSTREAM_<OPTION> (WEARSTREAM_API_URL, WEARSTREAM_DEV_ID, WEARSTREAM_API_KEY, ...).",
    )
    _add_options(parser, top=True)
    parser.add_argument("--user-id", default=None, help=argparse.SUPPRESS)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    user = kinds.add_parser("user", help="a producer token binding one user")
    user.add_argument(
        "--user-id", default=argparse.SUPPRESS, metavar="U",
        help="the user the token binds (env WEARSTREAM_USER_ID); required",
    )
    developer = kinds.add_parser("developer", help="a consumer token for the developer")
    for sub in (user, developer):
        _add_options(sub, top=False)
    parser.set_defaults(func=run)


def _add_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The shared options; on a kind they default to SUPPRESS so the top level's value stays."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--api-url", default=default(DEFAULT_API_URL), metavar="URL",
        help=f"the broker's HTTP API (env WEARSTREAM_API_URL; default {DEFAULT_API_URL})",
    )
    parser.add_argument(
        "--dev-id", default=default(None), metavar="ID", help="developer id (env WEARSTREAM_DEV_ID)"
    )
    parser.add_argument(
        "--api-key", default=default(None), metavar="KEY",
        help="API key (prefer env WEARSTREAM_API_KEY: a command line is visible to others)",
    )
    parser.add_argument(
        "--timeout", type=seconds(3600), default=default(10.0), metavar="S",
        help="give up after this many seconds (default 10)",
    )


def _fail(message: str, code: int = 1) -> int:
    print(f"wearstream {COMMAND}: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    import trio

    from ..adapters.http.tokens_client import (
        TokenMintError,
        mint_developer_token,
        mint_user_token,
    )

    missing = [
        f"--{name.replace('_', '-')} (or WEARSTREAM_{name.upper()})"
        for name in ("dev_id", "api_key", *(("user_id",) if args.kind == "user" else ()))
        if not getattr(args, name)
    ]
    if missing:
        return _fail("missing " + ", ".join(missing), 2)

    async def mint() -> str:
        if args.kind == "user":
            return await mint_user_token(
                args.api_url, args.dev_id, args.api_key, args.user_id, timeout=args.timeout
            )
        return await mint_developer_token(args.api_url, args.dev_id, args.api_key, timeout=args.timeout)

    try:
        token = trio.run(mint)
    except TokenMintError as error:
        advice = "try again later" if error.retryable else "check the options"
        return _fail(f"{error} ({advice})")
    print(token, flush=True)
    return 0
