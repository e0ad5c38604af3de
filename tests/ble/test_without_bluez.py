"""A machine where Bluetooth cannot be used (no D-Bus system bus, or no BlueZ on it): a `ble:`
device says so in the words `wearstream scan` uses, with what to do, and gives up after the
attempts its spec allows instead of retrying forever (issue 15.5). Through the real CLI, with
D-Bus pointed at a path where nothing listens, and at a private dbus-daemon that has no BlueZ."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import trio

from wearstream.testing.bluez import DBUS_DAEMON, dbus_daemon
from wearstream.testing.broker_process import clean_environment, wearstream_command

UNREACHABLE = "Bluetooth is not reachable"
HINT = "sudo systemctl enable --now bluetooth"


def run(args: list[str], bus: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**clean_environment(), "DBUS_SYSTEM_BUS_ADDRESS": bus}
    return subprocess.run([*wearstream_command(), *args], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)


def producer(tmp_path: Path, attempts: int) -> list[str]:
    # The broker is never reached: the device gives up first, which ends the producer.
    return ["producer", "--user-id", "u", "--device", f"ble:AA:BB:CC:DD:EE:FF?attempts={attempts}",
            "--broker-url", "ws://127.0.0.1:9/connect", "--token-command", "echo t",
            "--outbox", str(tmp_path / "outbox.db")]


def test_no_system_bus_gives_up_after_the_attempts_with_the_scan_line(tmp_path: Path) -> None:
    bus = f"unix:path={tmp_path}/no-bus-here"
    began = time.monotonic()
    done = run(producer(tmp_path, 2), bus, tmp_path)
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - began < 30
    stopped = [line for line in done.stderr.splitlines() if "stopped:" in line and "ERROR" in line]
    assert len(stopped) == 1 and UNREACHABLE in stopped[0] and "no D-Bus system bus" in stopped[0]
    assert HINT in stopped[0] and "Traceback" not in done.stderr
    scan = run(["scan", "--transport", "ble", "--timeout", "1"], bus, tmp_path)
    line = stopped[0][stopped[0].index(UNREACHABLE):]
    assert line in scan.stdout + scan.stderr  # one message, said alike by both


@pytest.mark.skipif(DBUS_DAEMON is None, reason="dbus-daemon is not installed")
async def test_a_bus_without_bluez_is_named_as_such(tmp_path: Path) -> None:
    async with dbus_daemon(tmp_path) as address:
        done = await trio.to_thread.run_sync(run, producer(tmp_path, 1), address, tmp_path)
    assert done.returncode == 1
    assert f"{UNREACHABLE}: BlueZ is not on the D-Bus system bus" in done.stderr
    assert HINT in done.stderr and "Traceback" not in done.stderr
