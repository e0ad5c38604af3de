"""CPU time and memory of another process, read from /proc (Linux), every thread included."""

from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of ``pid`` so far (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak RSS so far) of ``pid``, in KiB."""
    result = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":", 1)
                result[name] = int(value.split()[0])
    return result


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (not gone, not a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rss_kib(pid: int) -> int:
    return memory_kib(pid)["VmRSS"]


def peak_rss_kib(pid: int) -> int:
    return memory_kib(pid)["VmHWM"]


def load_average() -> float:
    """The 1-minute load average: above the CPU count, other work competed with the benchmark."""
    return os.getloadavg()[0]
