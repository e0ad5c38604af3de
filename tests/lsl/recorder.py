"""A stand-in for LabRecorder: a real LSL inlet on one stream, pulling in a thread until stopped."""

from __future__ import annotations

import threading
from typing import Any

import pylsl
from pylsl.util import LostError, TimeoutError


class Recorder:
    """Resolves the stream named ``name``, keeps an inlet on it (recovering when its outlet is
    made again by a restarted sink), and keeps every (sample, timestamp) it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.samples: list[tuple[list[Any], float]] = []
        self.info: Any = None
        self.connected = False
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        inlet = None
        while not self.stopping.is_set() and inlet is None:
            found = pylsl.resolve_bypred(f"name='{self.name}'", 1, 1.0)
            if found:
                candidate = pylsl.StreamInlet(found[0], max_buflen=60, recover=True)
                try:
                    candidate.open_stream(timeout=10)
                    self.info = candidate.info(timeout=10)
                except (TimeoutError, LostError):  # the outlet went away meanwhile
                    continue
                inlet, self.connected = candidate, True
        while inlet is not None and not self.stopping.is_set():
            chunk, stamps = inlet.pull_chunk(timeout=0.1)
            with self.lock:
                self.samples.extend(zip(chunk, stamps))
        if inlet is not None:
            inlet.close_stream()

    def received(self) -> list[tuple[list[Any], float]]:
        with self.lock:
            return list(self.samples)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
