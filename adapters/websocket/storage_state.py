"""Whether the broker's log can be written now, as the hub's writer last found it.

A full disk, a write lock another process holds too long, a Redis out of memory: none of these is
the producers' fault, and none is a reason to exit. The writer keeps the batch it could not
store and retries it (``retry_delays``) until it is stored; meanwhile the hub refuses new
submissions (producers are closed with 1013, "try again later", and resend what was not
acknowledged), consumers keep their sessions and replays, and ``/healthz`` reports
``storage.ok: false`` with the error. Nothing acknowledged is lost: a SUBMIT_ACK is sent only
after its payload is stored.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterator, TypeVar

import trio

from ...domain.readings import format_timestamp
from ...ports.storage import StorageUnavailable

log = logging.getLogger("wearstream.broker")

FIRST_RETRY = 0.05
MAX_RETRY = 1.0  # so that the broker notices within a second that storage is back
REMIND_EVERY = 60.0  # seconds between warnings while storage stays unavailable
T = TypeVar("T")


def retry_delays() -> Iterator[float]:
    """Seconds to wait before each retry of a failed write: doubling, then every MAX_RETRY."""
    delay = FIRST_RETRY
    while True:
        yield delay
        delay = min(delay * 2, MAX_RETRY)


async def until_stored(
    state: "StorageState", call: Callable[[], Awaitable[T]], *, recovers: bool = True
) -> T:
    """``call()``, retried while storage is unavailable (the batch waits, never dropped), each
    failure told to ``state``; ``recovers``: its success shows that storage can be written again."""
    delays = retry_delays()
    while True:
        try:
            result = await call()
        except StorageUnavailable as error:
            state.failed(error)
            await trio.sleep(next(delays))
            continue
        if recovers:
            state.stored()
        return result


class StorageState:
    """The writer's view of storage: ``failed()`` on each failed write, ``stored()`` after each
    success. Publishers waiting for room in the hub's queue register a cancel scope, so that
    they are refused at once when storage fails rather than wait for it."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.since: datetime | None = None
        self.failures = 0
        self._reminded = 0.0
        self._waiting: set[trio.CancelScope] = set()

    @property
    def ok(self) -> bool:
        return self.error is None

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        self.failures += 1
        if self.error is None:
            self.since = datetime.now(timezone.utc)
            log.warning(
                "storage unavailable (%s): refusing new submissions with 1013 and retrying", error
            )
            self._reminded = now
            for scope in self._waiting:
                scope.cancel()
        elif now - self._reminded >= REMIND_EVERY:
            log.warning("storage still unavailable after %d attempts: %s", self.failures, error)
            self._reminded = now
        self.error = str(error)

    def stored(self) -> None:
        if self.error is not None:
            log.warning(
                "storage available again after %d failed attempts; accepting submissions",
                self.failures,
            )
            self.error, self.since, self.failures = None, None, 0

    def waiting(self) -> "_Waiting":
        """``with state.waiting() as scope``: a wait that storage trouble cuts short."""
        return _Waiting(self)

    def health(self) -> dict[str, Any]:
        """What /healthz shows under ``storage``."""
        return {
            "ok": self.ok,
            "error": self.error,
            "since": None if self.since is None else format_timestamp(self.since),
        }


class _Waiting:
    def __init__(self, state: StorageState) -> None:
        self._state = state
        self.scope = trio.CancelScope()

    def __enter__(self) -> trio.CancelScope:
        self._state._waiting.add(self.scope)
        return self.scope.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        self._state._waiting.discard(self.scope)
        return self.scope.__exit__(*exc)
