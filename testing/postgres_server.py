"""A PostgreSQL database for tests: a fresh database on the machine's server when one answers,
else a private server started from the ``postgresql`` binaries in a temp dir on a free port.

Either way each ``PostgresDatabase`` is a database of its own (``wearstream_test_<random>``),
dropped when the test is done, so tests never see each other's tables nor anyone else's data.
The machine's server is tried at ``WEARSTREAM_TEST_POSTGRES`` (a libpq URL of a database the
tests may create databases from), by default ``postgresql://postgres@127.0.0.1:5432/postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import attrs

from .redis_server import free_port

ADMIN_URL = os.environ.get("WEARSTREAM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
START_TIMEOUT = 30.0


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and postgres (Debian keeps them under /usr/lib/postgresql)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@attrs.define
class PrivateServer:
    """A postgres server of the test's own: initdb in a temp dir, trust auth, one free port.

    PostgreSQL refuses to run as root; as root the data dir is given to the ``postgres`` user
    and the server runs as that user (``runuser``)."""

    directory: Path
    port: int = attrs.field(factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def start(self) -> "PrivateServer":
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL's server binaries are not installed (apt package postgresql)")
        data = self.directory / "data"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        subprocess.run(
            self._as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]),
            check=True, capture_output=True,
        )
        self.process = subprocess.Popen(
            self._as_owner([
                str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1",
                "-k", str(self.directory), "-c", "fsync=off",
            ]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(self.admin_url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"a private postgres on port {self.port} did not start")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


@attrs.define
class PostgresDatabase:
    """A fresh database; ``url`` is a libpq URL to it."""

    admin_url: str
    name: str = attrs.field(factory=lambda: f"wearstream_test_{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{self.name}"

    def create(self) -> "PostgresDatabase":
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url) as connection:
            return connection.execute(statement, params).fetchall()

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(statement)


def postgres_admin_url() -> Iterator[str]:
    """The machine's server when it answers, else a private one for as long as the generator runs."""
    if _answers(ADMIN_URL):
        yield ADMIN_URL
        return
    server = PrivateServer(Path(tempfile.mkdtemp(prefix="wearstream-postgres-"))).start()
    try:
        yield server.admin_url
    finally:
        server.stop()
