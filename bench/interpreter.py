"""The interpreter a benchmark's wearstream brokers run under (``--broker-python``).

Why: the same broker costs a quarter less CPU per reading under one CPython 3.11 build than
under another on this machine (docs/benchmarks.md, "The interpreter"). A source build without
``--enable-optimizations`` (pyenv's default) runs Python code slower than a distribution's
build with profile-guided optimisation and link-time optimisation (Debian's ``python3``, what
docs/raspberry-pi.md installs into). So the interpreter is named in every report, and the
brokers can be run under another one while the load generator stays in this one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = "wearstream.entrypoints.cli"
PROBE = "import sys, wearstream; print(sys.version.split()[0])"


def run_under(python: str, command: list[str]) -> list[str]:
    """The broker ``command`` (this interpreter's ``-m …``, or the venv's ``wearstream``
    script) run by ``python`` instead."""
    program = command[0]
    if program == sys.executable:
        return [python, *command[1:]]
    if Path(program).name == "wearstream":
        return [python, "-m", CLI, *command[1:]]
    raise ValueError(f"cannot run {program!r} under another interpreter")


def version(python: str) -> str | None:
    """``python``'s version, or None when it cannot run or cannot import wearstream."""
    try:
        done = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def describe(python: str) -> str:
    """What a report says of the brokers' interpreter: its version and where it is."""
    return f"{version(python) or '?'} ({Path(python).resolve()})"
