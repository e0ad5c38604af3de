"""wearstream: self-hostable, Terra-compatible real-time streaming of wearable sensor data.

The package is laid out in hexagonal style: ``wearstream.domain`` (pure model and protocol
rules), ``wearstream.ports`` (the interfaces the application needs), ``wearstream.adapters``
(BLE, ANT+, WebSocket, HTTP, storage, sinks) and ``wearstream.entrypoints`` (CLI and wiring).
"""

__version__ = "0.1.0"
