"""`wearstream transports` and `wearstream sinks`: what is installed, from which package.

Both read the same entry-point groups the producer and consumer use, so what these list is exactly
what a spec can name. A plug-in that fails to import is listed with its error (exit status 1),
never hidden, and never hides the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .config import Commands

if TYPE_CHECKING:
    from .plugins import PluginInfo

COMMANDS = {
    "transports": "list the installed device transports (ble, ant, sim, plug-ins)",
    "sinks": "list the installed consumer sinks (stdout, jsonl, csv, sqlite, webhook, plug-ins)",
}


def register(commands: Commands) -> None:
    for name, summary in COMMANDS.items():
        parser = commands.add_parser(name, help=summary, description=summary + ".")
        parser.add_argument("--json", action="store_true", help="print one JSON object per plug-in")
        parser.set_defaults(func=run, listing=name)


def record(info: "PluginInfo") -> dict:
    return {
        "name": info.name,
        "target": info.target,
        "package": info.distribution,
        "version": info.version,
        "data_types": list(info.data_types),
        "usage": info.usage,
        "error": info.error,
    }


def _text(infos: list["PluginInfo"], listing: str) -> list[str]:
    """A table; sinks take every data type, so their third column is where a spec points."""
    rows = [("NAME", "PACKAGE", "DATA TYPES" if listing == "transports" else "SPEC")]
    for info in infos:
        package = f"{info.distribution or '?'} {info.version or ''}".strip()
        if info.error:
            detail = f"error: {info.error}"
        elif listing == "transports":
            detail = ", ".join(info.data_types) or "any (from the recording)"
        else:
            detail = info.usage or f"{info.name}:TARGET"
        rows.append((info.name, package, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}" for row in rows]


def run(args: argparse.Namespace) -> int:
    from .plugins import list_sinks, list_transports

    infos = list_transports() if args.listing == "transports" else list_sinks()
    if args.json:
        for info in infos:
            print(json.dumps(record(info)))
    elif infos:
        print("\n".join(_text(infos, args.listing)))
    else:
        print(f"no {args.listing} installed", file=sys.stderr)
    return 1 if any(info.error for info in infos) else 0
