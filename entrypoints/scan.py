"""`wearstream scan`: list the devices each installed transport can see.

All transports scan at once. One that cannot scan (no Bluetooth adapter, no ANT stick, a broken
plug-in) is reported by name on stderr and the others still list: a missing radio is the normal
case on a server. The exit status is 1 only when a transport asked for by name failed, or when
none could scan at all.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ..adapters.logging_json import add_logging_options, configure_logging
from .config import Commands
from .values import seconds

if TYPE_CHECKING:
    from ..domain.devices import Device

COMMAND = "scan"
# How long past its timeout a scanner may take to wind down before it is given up on.
SCAN_GRACE_S = 2.0


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="list the devices the installed transports can see",
        description="Scan for devices with every installed transport (ble, ant, sim, plug-ins) "
        "or those named. Every option also reads WEARSTREAM_<OPTION>.",
    )
    parser.add_argument(
        "--transport", action="append", metavar="NAME",
        help="scan with this transport only (repeatable; default: all installed; "
        "env WEARSTREAM_TRANSPORT, comma-separated)",
    )
    parser.add_argument(
        "--timeout", type=seconds(3600, zero=True), default=5.0, metavar="S",
        help="how long to listen, in seconds (default 5)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per device")
    add_logging_options(parser, level="warning", log_format="text")
    parser.set_defaults(func=run)


def _warn(message: str) -> None:
    print(f"wearstream {COMMAND}: {message}", file=sys.stderr, flush=True)


async def scan_one(name: str, timeout: float) -> list["Device"]:
    """One transport's devices; any failure of the plug-in becomes an error naming it."""
    import trio

    from .plugins import transport_named

    transport = transport_named(name)
    with trio.move_on_after(timeout + SCAN_GRACE_S) as scope:
        return list(await transport.scanner().scan(timeout))
    assert scope.cancelled_caught
    raise TimeoutError(f"no answer within {timeout + SCAN_GRACE_S:g} s")


async def scan_all(names: list[str], timeout: float) -> dict[str, list["Device"] | Exception]:
    """Each transport's devices, or what stopped it; one failure never stops the others."""
    import trio

    results: dict[str, list["Device"] | Exception] = {}

    async def one(name: str) -> None:
        try:
            results[name] = await scan_one(name, timeout)
        except Exception as error:  # a plug-in's failure is reported, never fatal to the rest
            results[name] = error

    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(one, name)
    return {name: results[name] for name in names}


def _reason(error: Exception) -> str:
    """Our own errors say what happened; anything else also needs its type to make sense."""
    text = str(error)
    if text and type(error).__module__.startswith("wearstream"):
        return text
    return f"{type(error).__name__}: {text}"


def device_record(device: "Device") -> dict:
    return {
        "id": device.id,
        "name": device.name,
        "transport": device.transport,
        "data_types": list(device.data_types),
        "services": list(device.services),
        "battery": device.battery,
    }


def _text_rows(devices: list["Device"]) -> list[str]:
    rows = [("ID", "NAME", "TRANSPORT", "DATA TYPES / SERVICES", "BATTERY")]
    for d in devices:
        offers = ", ".join(d.data_types or d.services) or "-"
        battery = "-" if d.battery is None else f"{d.battery}%"
        rows.append((d.id, d.name or "-", d.transport, offers, battery))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    padded = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)
    return [f"{left}  {row[4]}" for left, row in zip(padded, rows)]


def run(args: argparse.Namespace) -> int:
    import trio

    from .plugins import installed_transports

    configure_logging(args.log_level, args.log_format)
    installed = installed_transports()
    names = list(dict.fromkeys(args.transport or installed))
    unknown = [name for name in names if name not in installed]
    if unknown:
        listed = ", ".join(installed) or "none"
        _warn(f"no transport called {', '.join(unknown)}; installed: {listed}")
        return 2
    results = trio.run(scan_all, names, args.timeout)
    devices: list["Device"] = []
    failed = []
    for name, result in results.items():
        if isinstance(result, Exception):
            failed.append(name)
            _warn(f"{name}: {_reason(result)}")
        else:
            devices.extend(result)
    if args.json:
        for device in devices:
            print(json.dumps(device_record(device)))
    elif devices:
        print("\n".join(_text_rows(devices)))
    elif not failed:
        print("no devices found")
    if failed and (args.transport or len(failed) == len(names)):
        return 1
    return 0
