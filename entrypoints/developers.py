"""`wearstream developers create|list|revoke`: manage the developers (API keys) of a broker's data dir.

The API key is shown once, at creation: only its hash is stored. The options are declared on
``developers`` itself (so they get WEARSTREAM_<OPTION> and TOML defaults like every option) and
again on each action with a suppressed default, so they may be written before or after it:
``wearstream developers create NAME --data-dir DIR`` and ``wearstream developers --data-dir DIR
create NAME`` mean the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from .config import Commands
from .failures import explain

COMMAND = "developers"


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="create, list and revoke developers (API keys) in a broker's data dir",
        description="Manage developers and their API keys. Every option also reads "
        "WEARSTREAM_<OPTION> (e.g. WEARSTREAM_DATA_DIR).",
    )
    _add_options(parser, top=True)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help="create a developer and print its id and API key (shown only once)"
    )
    create.add_argument("name", metavar="NAME", type=_name, help="a display name")
    listing = actions.add_parser("list", help="list the developers")
    revoke = actions.add_parser(
        "revoke",
        help="revoke a developer: its key mints no more tokens, and running brokers close its "
        "sessions (4009) within a second",
    )
    revoke.add_argument("dev_id", metavar="ID", help="the developer id (dev_…)")
    for sub in (create, listing, revoke):
        _add_options(sub, top=False)
    parser.set_defaults(func=run)


def _add_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The shared options; on an action they default to SUPPRESS so the top level's value stays."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--data-dir", default=default(None), metavar="DIR",
        help="the broker's data dir (env WEARSTREAM_DATA_DIR); required",
    )
    parser.add_argument(
        "--backend", default=default(None), metavar="URL",
        help="the brokers' shared Redis (redis://HOST:PORT/DB) instead of a data dir",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False),
        help="print JSON (one line) instead of text",
    )


def _name(value: str) -> str:
    from .state import validate_developer_name

    try:
        return validate_developer_name(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fail(message: str, code: int = 1) -> int:
    print(f"wearstream {COMMAND}: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    import sqlite3

    import trio

    from ..adapters.storage.sqlite import SchemaError
    from ..ports.storage import StorageUnavailable

    from ..adapters.storage.resp import RedisError

    from .state import check_backend

    action: Callable[[argparse.Namespace, Path | str], Awaitable[int]] = ACTIONS[args.action]
    if args.backend:
        try:
            backend = check_backend(args.backend)
            return trio.run(action, args, backend)
        except (ValueError, OSError, RedisError, StorageUnavailable) as error:
            return _fail(f"cannot use backend {args.backend}: {error}")
    if not args.data_dir:
        return _fail("--data-dir DIR or --backend URL (or WEARSTREAM_DATA_DIR) is required", 2)
    data_dir = Path(args.data_dir).expanduser()
    if args.action != "create" and not data_dir.is_dir():
        return _fail(f"no data dir {data_dir} (`wearstream developers create` makes one)")
    try:
        return trio.run(action, args, data_dir)
    except (OSError, sqlite3.Error, SchemaError, StorageUnavailable) as error:
        return _fail(explain(error, args) or f"cannot use data dir {data_dir}: {error}")


def _open(where: Path | str) -> Any:
    """The stores of a data dir (a Path) or of a backend URL (a str)."""
    from .state import open_stores

    return open_stores(where) if isinstance(where, Path) else open_stores(None, where)


async def _create(args: argparse.Namespace, where: Path | str) -> int:
    from .state import create_developer

    async with _open(where) as stores:
        new = await create_developer(stores.developers, args.name)
    if args.json:
        print(json.dumps({"dev_id": new.dev_id, "api_key": new.api_key}), flush=True)
    else:
        print(
            f"created developer {new.developer.name!r}\n"
            f"  dev id:  {new.dev_id}\n"
            f"  API key: {new.api_key}\n"
            "Keep the API key now: only its hash is stored, it cannot be shown again.",
            flush=True,
        )
    return 0


async def _list(args: argparse.Namespace, where: Path | str) -> int:
    async with _open(where) as stores:
        developers = sorted(await stores.developers.list(), key=lambda d: (d.created_at, d.id))
    from ..domain.readings import format_timestamp

    if args.json:
        rows = [
            {
                "dev_id": d.id,
                "name": d.name,
                "created_at": format_timestamp(d.created_at),
                "revoked": d.revoked,
            }
            for d in developers
        ]
        print(json.dumps(rows), flush=True)
        return 0
    if not developers:
        print(f"no developers in {where}", flush=True)
        return 0
    width = max(len(d.id) for d in developers)
    print(f"{'ID':<{width}}  {'STATUS':<7}  {'CREATED':<20}  NAME")
    for d in developers:
        status = "revoked" if d.revoked else "active"
        created = d.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{d.id:<{width}}  {status:<7}  {created:<20}  {d.name}")
    sys.stdout.flush()
    return 0


async def _revoke(args: argparse.Namespace, where: Path | str) -> int:
    async with _open(where) as stores:
        found = await stores.developers.revoke(args.dev_id)
    if not found:
        return _fail(f"no developer {args.dev_id!r} in {where}")
    if args.json:
        print(json.dumps({"dev_id": args.dev_id, "revoked": True}), flush=True)
    else:
        print(
            f"revoked developer {args.dev_id}: its API key mints no more tokens, and running "
            "brokers close its sessions within a second",
            flush=True,
        )
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace, Path | str], Awaitable[int]]] = {
    "create": _create,
    "list": _list,
    "revoke": _revoke,
}
