"""The ``wearstream`` console script: one sub-command per module of this package.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func=run`` (``run(args) -> int``). Command modules keep their top-level imports light
(argparse, attrs): adapters are imported inside ``run``, so ``wearstream --help`` stays fast
and a missing optional library only affects the command that needs it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Mapping, Sequence

from . import failures
from .config import ConfigError, OptionParser, Sources, load_config

COMMANDS = (
    "demo",
    "broker",
    "producer",
    "consumer",
    "developers",
    "token",
    "overlay_url",  # `overlay-url`
    "producer_link",  # `producer-link`
    "scan",
    "listing",  # `transports` and `sinks`
)


def build_parser(
    config: dict | None = None, environ: Mapping[str, str] | None = None, config_path: str | None = None
) -> OptionParser:
    """The whole command line; options default to their WEARSTREAM_<OPTION> or config-file value.

    Raises ConfigError for a config-file key that no command knows."""
    sources = Sources(config or {}, os.environ if environ is None else environ, config_path)
    parser = OptionParser(
        prog="wearstream",
        description="Real-time streaming of wearable sensor data (Terra-compatible).",
        sources=sources,
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=sources.environ.get("WEARSTREAM_CONFIG"),
        help="TOML config file (env WEARSTREAM_CONFIG); options go under [COMMAND] tables",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"wearstream {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(commands)
    sources.check_keys()
    return parser


def _config_path(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return os.environ.get("WEARSTREAM_CONFIG")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        path = _config_path(argv)
        parser = build_parser(load_config(path), config_path=path)
    except ConfigError as error:
        print(f"wearstream: {error}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BaseException as error:  # judged below: known user-fixable failures become one line
        if failures.interrupted(error):
            return failures.INTERRUPTED
        message = failures.explain(error, args)
        if message is None:
            raise
        print(f"wearstream {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
