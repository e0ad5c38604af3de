"""Run `wearstream broker` as a real subprocess on free ports, for end-to-end tests.

The broker is started with ``--port 0`` and announces the port it got on stdout
(``wearstream broker ready ws=ws://HOST:PORT/connect http=http://HOST:PORT``): one origin, so
both URLs share HOST:PORT (``ws_url`` and ``http_url`` are kept for tests that use either). Its stdout and
stderr go to files, not pipes, so nothing has to drain them while a test runs and both are at
hand for a failure message. Both a blocking API (for fixtures outside trio) and an async one (for
a test that must keep its WebSocket clients running while the broker starts or stops) are given;
the async one only polls, so it works under any trio test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import attrs

READY_LINE = re.compile(r"wearstream broker ready ws=(?P<ws>\S+) http=(?P<http>\S+)")
POLL_INTERVAL = 0.02


class BrokerProcessError(RuntimeError):
    """The broker did not start, did not stop, or a helper command failed; carries its output."""


@attrs.frozen
class DeveloperCredentials:
    """What `wearstream developers create --json` prints: the id and API key of one developer."""

    dev_id: str
    api_key: str

    def headers(self) -> dict[str, str]:
        """The HTTP headers that authenticate this developer on the token API."""
        return {"dev-id": self.dev_id, "x-api-key": self.api_key}


def wearstream_command() -> list[str]:
    """The console script of the interpreter running the tests (a venv's), else ``-m``."""
    script = Path(sys.executable).with_name("wearstream")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "wearstream.entrypoints.cli"]


def clean_environment() -> dict[str, str]:
    """The current environment without WEARSTREAM_* settings, so a developer's shell or config
    cannot change what a test starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEARSTREAM_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def store_option(store: Path | str) -> list[str]:
    """The CLI option naming ``store``: a ``redis://`` URL is a --backend, anything else a data dir."""
    if isinstance(store, str) and store.startswith(("redis://", "rediss://")):
        return ["--backend", store]
    return ["--data-dir", str(store)]


def create_developer(store: Path | str, name: str, *, timeout: float = 30.0) -> DeveloperCredentials:
    """Create a developer in ``store`` (a data dir, or a Redis URL) with the real CLI and return
    its credentials."""
    command = [*wearstream_command(), "developers", "create", name, *store_option(store), "--json"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=clean_environment()
    )
    if result.returncode != 0:
        raise BrokerProcessError(
            f"{' '.join(command)} exited {result.returncode}\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}"
        )
    return _parse_credentials(result.stdout, command)


def _parse_credentials(stdout: str, command: Sequence[str]) -> DeveloperCredentials:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            obj = json.loads(line)
            return DeveloperCredentials(str(obj["dev_id"]), str(obj["api_key"]))
    raise BrokerProcessError(f"{' '.join(command)} printed no JSON line:\n{stdout}")


def broker_arguments(
    data_dir: Path | str | None,
    *,
    host: str = "127.0.0.1",
    identify_timeout: float | None = None,
    heartbeat_interval: int | None = None,
    max_consumers: int | None = None,
    token_ttl: float | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The `wearstream broker …` command line for these options, on free ports."""
    args = [*wearstream_command(), "broker", "--host", host, "--port", "0"]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    options: dict[str, Any] = {
        "--identify-timeout": identify_timeout,
        "--heartbeat-interval": heartbeat_interval,
        "--max-consumers": max_consumers,
        "--token-ttl": token_ttl,
    }
    for flag, value in options.items():
        if value is not None:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return args + list(extra)


@attrs.define
class BrokerProcess:
    """One `wearstream broker` subprocess. Use as a context manager, or start()/stop()."""

    args: list[str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    ws_url: str = ""
    http_url: str = ""
    returncode: int | None = None

    @classmethod
    def create(cls, data_dir: Path | str | None, *, log_dir: Path | str | None = None, **options: Any) -> "BrokerProcess":
        """A broker ready to start; ``options`` are those of broker_arguments()."""
        logs = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="wearstream-broker-"))
        logs.mkdir(parents=True, exist_ok=True)
        return cls(broker_arguments(data_dir, **options), logs)

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "broker.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "broker.stderr"

    # Starting ----------------------------------------------------------------------------------

    def _spawn(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise BrokerProcessError("this broker is already running")
        self.ws_url = self.http_url = ""
        self.returncode = None
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=clean_environment()
            )

    def _check_ready(self) -> bool:
        """True once the ready line is out; raises if the process died first."""
        assert self.process is not None
        match = READY_LINE.search(self.stdout_path.read_text(errors="replace"))
        if match:
            self.ws_url, self.http_url = match["ws"], match["http"]
            return True
        if self.process.poll() is not None:
            self.returncode = self.process.returncode
            raise BrokerProcessError(
                f"broker exited {self.returncode} before it was ready\n{self.output()}"
            )
        return False

    def _not_ready(self, timeout: float) -> BrokerProcessError:
        self.kill()
        return BrokerProcessError(f"broker not ready within {timeout:g} s\n{self.output()}")

    def start(self, *, timeout: float = 20.0) -> "BrokerProcess":
        """Start and block until the broker has printed its ready line."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while not self._check_ready():
            if time.monotonic() >= deadline:
                raise self._not_ready(timeout)
            time.sleep(POLL_INTERVAL)
        return self

    async def start_async(self, *, timeout: float = 20.0) -> "BrokerProcess":
        """start() for a trio test: polls with trio.sleep, so the test's other tasks keep running."""
        import trio

        self._spawn()
        with trio.move_on_after(timeout):
            while not self._check_ready():
                await trio.sleep(POLL_INTERVAL)
            return self
        raise self._not_ready(timeout)

    # Stopping ----------------------------------------------------------------------------------

    def _terminate(self) -> bool:
        """Send SIGTERM; False when the process had already exited."""
        if self.process is None:
            raise BrokerProcessError("this broker was never started")
        if self.process.poll() is not None:
            self.returncode = self.process.returncode
            return False
        self.process.send_signal(signal.SIGTERM)
        return True

    def _not_stopped(self, timeout: float) -> BrokerProcessError:
        self.kill()
        return BrokerProcessError(f"broker still running {timeout:g} s after SIGTERM\n{self.output()}")

    def stop(self, *, timeout: float = 10.0) -> int:
        """SIGTERM, wait for the exit and return the exit code (killed and raising if it hangs)."""
        if self._terminate():
            try:
                self.returncode = self.process.wait(timeout)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                raise self._not_stopped(timeout) from None
        assert self.returncode is not None
        return self.returncode

    async def stop_async(self, *, timeout: float = 10.0) -> int:
        """stop() for a trio test, whose clients must keep running to see the broker close them."""
        import trio

        if self._terminate():
            assert self.process is not None
            with trio.move_on_after(timeout):
                while self.process.poll() is None:
                    await trio.sleep(POLL_INTERVAL)
            if self.process.poll() is None:
                raise self._not_stopped(timeout)
            self.returncode = self.process.returncode
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL and reap, if still running (the last resort of a failed test)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            self.returncode = self.process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """The broker's stdout and stderr so far, for a failure message."""
        parts = []
        for name, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- broker {name} ---\n{text}")
        return "\n".join(parts)

    def __enter__(self) -> "BrokerProcess":
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running:
            try:
                self.stop()
            except BrokerProcessError:
                pass  # already killed; the test's own failure is the one worth seeing


def create_developers(
    data_dir: Path | str, names: Sequence[str], *, timeout: float = 60.0
) -> list[DeveloperCredentials]:
    """Create several developers: the first alone (it may create the store), the rest at once."""
    if not names:
        return []
    first = create_developer(data_dir, names[0], timeout=timeout)
    env = clean_environment()
    commands = [
        [*wearstream_command(), "developers", "create", name, "--data-dir", str(data_dir), "--json"]
        for name in names[1:]
    ]
    running = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for c in commands
    ]
    result = [first]
    for command, process in zip(commands, running):
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise BrokerProcessError(f"{' '.join(command)} hung") from None
        if process.returncode != 0:
            raise BrokerProcessError(
                f"{' '.join(command)} exited {process.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )
        result.append(_parse_credentials(stdout, command))
    return result
