"""wearstream: self-hostable, Terra-compatible real-time streaming of wearable sensor data.

The package is laid out in hexagonal style: ``wearstream.domain`` (pure model and protocol
rules), ``wearstream.ports`` (the interfaces the application needs), ``wearstream.adapters``
(BLE, ANT+, WebSocket, HTTP, storage, sinks) and ``wearstream.entrypoints`` (CLI and wiring).
"""

__version__ = "0.1.0"

__all__ = ["ConsumerStopped", "connect_consumer", "__version__"]

# Imported on first use, so that ``import wearstream`` (and ``wearstream --help``) stays light.
_LAZY = {
    "connect_consumer": "wearstream.entrypoints.connect",
    "ConsumerStopped": "wearstream.domain.errors",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'wearstream' has no attribute {name!r}")
