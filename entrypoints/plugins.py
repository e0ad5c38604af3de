"""The plug-in registry: transports and sinks found through Python entry points.

A spec names its plug-in by the prefix before its first ``:`` (``sim:hr-strap?rate=5``,
``jsonl:/var/lib/hr.jsonl``); a spec without ``:`` is a prefix with an empty target (``stdout``),
and the plug-in decides whether it needs one. The built-in transports and sinks register in
pyproject.toml exactly like a third-party package would, so there is no list of them here.

Entry points are read afresh on every lookup (it is cheap next to opening a device), so a package
installed while a process runs, or put on ``sys.path`` by a test, is seen. A plug-in that fails to
import is a PluginError naming it; it never hides the others.
"""

from __future__ import annotations

import enum
from importlib import metadata
from typing import TYPE_CHECKING, Any

import attrs

from ..domain.errors import SpecError

if TYPE_CHECKING:
    from ..ports.devices import DeviceTransport, SampleSource
    from ..ports.sinks import SampleSink, SinkOptions

TRANSPORTS = "wearstream.transports"
SINKS = "wearstream.sinks"


class PluginError(SpecError):
    """An installed plug-in that cannot be loaded or built. A SpecError, so that a command
    reports it like any spec it cannot serve, while the other plug-ins carry on."""


@attrs.frozen
class PluginInfo:
    """What ``wearstream transports``/``sinks`` show about one installed plug-in."""

    name: str
    target: str  # module:attribute
    distribution: str | None
    version: str | None
    data_types: tuple[str, ...] = ()
    usage: str | None = None  # a sink's spec form (its class attribute ``usage``)
    error: str | None = None


def split_spec(spec: str) -> tuple[str, str]:
    """``(prefix, target)``: the target is empty when the spec has no ``:``."""
    prefix, _, target = spec.partition(":")
    return prefix, target


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """Entry points by name; of two packages claiming one name, the first on sys.path wins."""
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)
    return found


def _kind(group: str) -> str:
    return "transport" if group == TRANSPORTS else "sink"


def _load(group: str, entry: metadata.EntryPoint) -> Any:
    try:
        return entry.load()
    except Exception as error:
        raise PluginError(
            f"the {_kind(group)} plug-in {entry.name!r} ({entry.value}) failed to load: "
            f"{type(error).__name__}: {error}"
        ) from error


def load(group: str, prefix: str) -> Any:
    """The object an entry point names; SpecError listing the installed prefixes if none has it."""
    entries = _entry_points(group)
    entry = entries.get(prefix)
    if entry is None:
        installed = ", ".join(sorted(entries)) or "none"
        raise SpecError(f"no {_kind(group)} called {prefix!r}; installed: {installed}")
    return _load(group, entry)


def _build(group: str, prefix: str, factory: Any, *args: Any) -> Any:
    """Call a plug-in's factory; its SpecErrors pass through, any other failure is its fault."""
    try:
        return factory(*args)
    except SpecError:
        raise
    except ValueError as error:  # what a factory raises for a spec it cannot take: its words
        raise PluginError(f"{prefix}: {error}") from error
    except Exception as error:
        raise PluginError(
            f"the {_kind(group)} plug-in {prefix!r} failed: {type(error).__name__}: {error}"
        ) from error


def transport_named(name: str) -> "DeviceTransport":
    """An installed transport, built with no arguments as every transport plug-in must allow."""
    return _build(TRANSPORTS, name, load(TRANSPORTS, name))


def transport_for(spec: str) -> tuple["DeviceTransport", str]:
    """The transport a device spec names, and the rest of the spec for its ``open``."""
    prefix, rest = split_spec(spec)
    return transport_named(prefix), rest


def open_device(spec: str) -> "SampleSource":
    """A session for a device spec such as ``sim:hr-strap?rate=5`` (not yet running)."""
    transport, rest = transport_for(spec)
    return transport.open(rest)


def sink_for(spec: str, options: "SinkOptions") -> "SampleSink":
    """A sink for a sink spec such as ``jsonl:/var/lib/hr.jsonl`` or ``stdout`` (not yet open)."""
    prefix, target = split_spec(spec)
    return _build(SINKS, prefix, load(SINKS, prefix), target, options)


def installed_transports() -> list[str]:
    return sorted(_entry_points(TRANSPORTS))


def _data_types(plugin: Any) -> tuple[str, ...]:
    types = getattr(plugin, "data_types", None) or ()
    return tuple(t.value if isinstance(t, enum.Enum) else str(t) for t in types)


def _describe(group: str, entry: metadata.EntryPoint) -> PluginInfo:
    dist = entry.dist
    info = PluginInfo(
        name=entry.name,
        target=entry.value,
        distribution=dist.name if dist else None,
        version=dist.version if dist else None,
    )
    try:
        plugin = _load(group, entry)
    except PluginError as error:
        return attrs.evolve(info, error=str(error))
    usage = getattr(plugin, "usage", None)
    return attrs.evolve(info, data_types=_data_types(plugin), usage=usage if isinstance(usage, str) else None)


def _listing(group: str) -> list[PluginInfo]:
    entries = _entry_points(group)
    return [_describe(group, entries[name]) for name in sorted(entries)]


def list_transports() -> list[PluginInfo]:
    """Every installed transport, with its load error instead of its data types if it is broken."""
    return _listing(TRANSPORTS)


def list_sinks() -> list[PluginInfo]:
    """Every installed sink, with its load error instead of its data types if it is broken."""
    return _listing(SINKS)
