"""--broker-python: the brokers' command is run by another interpreter, the load generator not."""

from __future__ import annotations

import sys

import pytest

from bench import interpreter


def test_a_broker_command_is_run_by_the_interpreter_named() -> None:
    memory = [sys.executable, "-m", "bench.memory_broker", "--developers", "1"]
    assert interpreter.run_under("/opt/py/bin/python", memory) == ["/opt/py/bin/python", *memory[1:]]
    script = ["/venv/bin/wearstream", "broker", "--port", "0"]
    assert interpreter.run_under("/opt/py/bin/python", script) == [
        "/opt/py/bin/python", "-m", "wearstream.entrypoints.cli", "broker", "--port", "0",
    ]
    with pytest.raises(ValueError):
        interpreter.run_under("/opt/py/bin/python", ["mosquitto", "-c", "x.conf"])


def test_an_interpreter_is_one_that_imports_wearstream() -> None:
    assert interpreter.version(sys.executable) == sys.version.split()[0]
    assert interpreter.version("/nonexistent/python") is None
    assert interpreter.describe(sys.executable).startswith(sys.version.split()[0])
