"""A private ``redis-server`` for tests: its own temp dir and a free port on 127.0.0.1.

Tests of the Redis backend never touch a Redis someone else runs: each server here is started
with no snapshots (``--save ""``), AOF only when asked (the restart test wants it, with
``appendfsync always`` so that a restart loses nothing), and is stopped (SIGTERM, then SIGKILL)
when the test is done. ``restart()`` keeps the port and the directory, as an operator restarting
Redis would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import attrs

BINARY = "redis-server"
START_TIMEOUT = 10.0


def redis_server_binary() -> str | None:
    """The redis-server executable, or None when it is not installed."""
    return shutil.which(BINARY) or next(
        (str(p) for p in (Path("/usr/bin/redis-server"), Path("/usr/sbin/redis-server")) if p.exists()),
        None,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@attrs.define
class RedisServer:
    """One redis-server process; use as a context manager, or start()/stop()."""

    directory: Path
    port: int = attrs.field(factory=free_port)
    appendonly: bool = False
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, *, appendonly: bool = False) -> "RedisServer":
        return cls(Path(tempfile.mkdtemp(prefix="wearstream-redis-")), appendonly=appendonly)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = redis_server_binary()
        if binary is None:
            raise FileNotFoundError(f"{BINARY} is not installed (apt package redis-server)")
        args = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--save", "", "--daemonize", "no", "--protected-mode", "yes",
            "--appendonly", "yes" if self.appendonly else "no",
        ]
        if self.appendonly:
            args += ["--appendfsync", "always"]
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")
        with log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited {self.process.returncode}\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server not ready within {START_TIMEOUT:g} s\n{self.output()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis then writes its AOF out), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
