"""Run `wearstream consumer` as a real subprocess against a BrokerProcess, for end-to-end tests.

Like the broker's, its stdout and stderr go to files (one pair per run), so nothing has to drain
them and both are at hand for a failure message. The async methods only poll, so they work under
any trio test while its producers keep running.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Callable

import attrs

from .broker_process import BrokerProcess, DeveloperCredentials, clean_environment, wearstream_command

POLL_INTERVAL = 0.05


def consumer_arguments(
    broker: BrokerProcess, dev: DeveloperCredentials, *options: str
) -> list[str]:
    """`wearstream consumer …` for ``dev`` on ``broker`` (``options``: --sink and the like)."""
    return [
        *wearstream_command(), "consumer", "--api-url", broker.http_url, "--broker-url",
        broker.ws_url, "--dev-id", dev.dev_id, "--api-key", dev.api_key, "--log-level", "info",
        *options,
    ]


@attrs.define
class ConsumerProcess:
    """One `wearstream consumer`, started (and restarted) with the same arguments."""

    args: list[str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @classmethod
    def create(
        cls, broker: BrokerProcess, dev: DeveloperCredentials, log_dir: Path, *options: str
    ) -> "ConsumerProcess":
        log_dir.mkdir(parents=True, exist_ok=True)
        return cls(consumer_arguments(broker, dev, *options), log_dir)

    def start(self) -> "ConsumerProcess":
        self.runs += 1
        with open(self._path("stdout"), "wb") as out, open(self._path("stderr"), "wb") as err:
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=clean_environment()
            )
        return self

    def _path(self, stream: str) -> Path:
        return self.log_dir / f"consumer{self.runs}.{stream}"

    def stdout(self) -> str:
        return self._path("stdout").read_text(errors="replace")

    def stderr(self) -> str:
        return self._path("stderr").read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        """Wait for ``condition``; fail with the consumer's output if it does not come (or the
        consumer exits first)."""
        import trio

        with trio.move_on_after(timeout):
            while not condition():
                if not self.running:
                    raise AssertionError(f"the consumer exited waiting for {what}\n{self.stderr()}")
                await trio.sleep(POLL_INTERVAL)
            return
        raise AssertionError(f"timed out waiting for {what}\n{self.stderr()}")

    async def wait(self, timeout: float = 15.0) -> int:
        """Wait for the consumer to exit by itself; its exit code (negative: the signal)."""
        import trio

        assert self.process is not None
        with trio.fail_after(timeout):
            while self.process.poll() is None:
                await trio.sleep(POLL_INTERVAL)
        return self.process.returncode

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL by default) if the consumer still runs."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it hangs); the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
