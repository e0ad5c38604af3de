"""A broker that cannot start says why in one line naming the port or path, and exits 1.

Each case runs the real console script, as a newcomer would meet it: a port another program holds,
an address not this machine's, a --data-dir that is a file, read-only, or holds a database that
cannot be opened. The read-only cases need a read-only file system (permissions do not stop root):
they mount one in a private user and mount namespace (``unshare -rm``), which touches nothing else.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from wearstream.testing.broker_process import clean_environment

CLI = [sys.executable, "-m", "wearstream.entrypoints.cli"]
FREE = ["--port", "0", "--http-port", "0"]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_environment())


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("wearstream broker: "), last
    for word in words:
        assert word in last, last


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as held:
        yield held.getsockname()[1]


def test_a_websocket_port_in_use(taken_port: int) -> None:
    result = run([*CLI, "broker", "--port", str(taken_port), "--http-port", "0"])
    assert_one_line(result, f"127.0.0.1:{taken_port}", "--port", "already in use", "another port")


def test_an_http_port_in_use(taken_port: int) -> None:
    result = run([*CLI, "broker", "--port", "0", "--http-port", str(taken_port)])
    assert_one_line(result, f"127.0.0.1:{taken_port}", "already in use")


def test_a_host_that_is_not_this_machine() -> None:
    assert_one_line(run([*CLI, "broker", *FREE, "--host", "192.0.2.1"]), "192.0.2.1", "not an address")


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").touch()
    result = run([*CLI, "broker", *FREE, "--data-dir", str(tmp_path / "file")])
    assert_one_line(result, str(tmp_path / "file"), "not a directory")
    result = run([*CLI, "broker", *FREE, "--data-dir", str(tmp_path / "file" / "sub")])
    assert_one_line(result, str(tmp_path / "file" / "sub"), "not a directory")


def test_a_data_dir_holding_something_that_is_not_a_database(tmp_path: Path) -> None:
    run([*CLI, "developers", "create", "x", "--data-dir", str(tmp_path)])
    for database in tmp_path.glob("*.db"):
        database.write_bytes(b"not a database" * 100)
    result = run([*CLI, "broker", *FREE, "--data-dir", str(tmp_path)])
    assert_one_line(result, str(tmp_path), "database")


def test_an_outbox_that_is_not_a_database_is_refused_alone(tmp_path: Path) -> None:
    """Only the refusal: the warning about a database others can read used to come first."""
    outbox = tmp_path / "notes.db"
    outbox.write_text("hello\n")
    outbox.chmod(0o644)
    result = run([*CLI, "producer", "--user-id", "u", "--device", "sim:hr-strap", "--token", "t",
                  "--broker-url", "ws://127.0.0.1:9/connect", "--outbox", str(outbox)])
    assert result.returncode in (1, 2) and "not a database" in result.stderr, result.stderr
    assert "chmod" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def _can_mount_privately() -> bool:
    unshare = shutil.which("unshare")
    return bool(unshare) and subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode == 0


needs_private_mount = pytest.mark.skipif(
    not _can_mount_privately(), reason="needs unshare -rm (user namespaces) to mount a read-only tmpfs"
)


def in_read_only_mount(mount: Path, before: list[str], command: list[str]) -> subprocess.CompletedProcess[str]:
    """Mount a tmpfs at ``mount``, run ``before`` there, make it read-only, run ``command``."""
    mount.mkdir()
    script = " && ".join(
        [f"mount -t tmpfs tmpfs {shlex.quote(str(mount))}", *before,
         f"mount -o remount,ro {shlex.quote(str(mount))}", f"exec {shlex.join(command)}"]
    )
    return run(["unshare", "-rm", "sh", "-c", script])


@needs_private_mount
def test_a_data_dir_on_a_read_only_file_system(tmp_path: Path) -> None:
    data_dir = tmp_path / "ro" / "state"
    result = in_read_only_mount(tmp_path / "ro", [], [*CLI, "broker", *FREE, "--data-dir", str(data_dir)])
    assert_one_line(result, str(data_dir), "read-only")


@needs_private_mount
def test_a_read_only_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "ro" / "state"
    create = shlex.join([*CLI, "developers", "create", "x", "--data-dir", str(data_dir)]) + " >/dev/null"
    result = in_read_only_mount(tmp_path / "ro", [create], [*CLI, "broker", *FREE, "--data-dir", str(data_dir)])
    assert_one_line(result, str(data_dir), "writable")


def test_a_backend_that_does_not_answer() -> None:
    # a port that listens but never speaks Redis would hang; a closed one is refused at once
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = run([*CLI, "broker", *FREE, "--backend", f"redis://127.0.0.1:{port}/0"])
    assert_one_line(result, f"redis://127.0.0.1:{port}/0", "Redis")
