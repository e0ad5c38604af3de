"""Instructions per reading: the broker run under callgrind, counted over the window only.

    python -m bench.relay --scenarios b --producers 200 --callgrind DIR

Why (docs/benchmarks.md, "Fewer instructions per reading"): on a shared virtual machine the
broker's CPU per reading moves by a quarter between runs minutes apart, more than most changes
are worth. The number of instructions it executes moves by about 2 %. Nearly all of its time per
reading is user-space Python, so fewer instructions is what a change must buy, and this counts
them.

The broker runs under ``valgrind --tool=callgrind`` with counting off; ``callgrind_control``
switches it on when the window opens, off when it closes, and dumps the counts to
``DIR/callgrind.<scenario>-<system>.<pid>.1``. Valgrind makes the broker some 50 times slower,
so offer a rate it keeps up with (scenario b with ``--producers 200``: 200 readings/s), and read
only this figure from such a run: its CPU and latency figures are valgrind's. Counts are of user
space only (the kernel's share was under a tenth at 1,000 × 1 Hz).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TOTALS = "totals:"


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def wrap(command: list[str], out_dir: Path, name: str) -> list[str]:
    """``command`` under callgrind, counting nothing until told to (count_window)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"callgrind.{name}.%p"
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", *command]


def count_window(pid: int, seconds: float) -> subprocess.Popen[bytes]:
    """Count ``pid``'s instructions for ``seconds`` from now, then dump them (wait for it)."""
    control = f"callgrind_control {{}} {pid} >/dev/null"
    script = "; ".join([control.format("-i on"), f"sleep {seconds}", control.format("-i off"), control.format("-d")])
    return subprocess.Popen(["sh", "-c", script])


def window_total(out_dir: Path, name: str, pid: int) -> int:
    """The instructions counted over the window (the first dump of ``pid``)."""
    dump = out_dir / f"callgrind.{name}.{pid}.1"
    for line in dump.read_text().splitlines():
        if line.startswith(TOTALS):
            return int(line[len(TOTALS):].split()[0])
    raise RuntimeError(f"{dump} has no '{TOTALS}' line")
