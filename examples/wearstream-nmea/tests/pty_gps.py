"""A GPS receiver on a pseudo-terminal: the test side of ``os.openpty`` writes recorded
sentences, the transport opens the other side with pyserial like a USB receiver's tty.

The port is reached through a symlink in the test's directory, as udev gives a receiver a
stable name under ``/dev/serial/by-id/``, so that the device id does not depend on which
``/dev/pts/N`` the pty got.
"""

from __future__ import annotations

import os
import tty
from pathlib import Path

import trio

DATA = Path(__file__).parent / "data"
RECORDING = DATA / "walk.nmea"


def recorded_lines(path: Path = RECORDING) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


async def play_gps(
    link: Path,
    lines: list[bytes],
    *,
    repeat: bool = False,
    pause: float = 0.002,
    begin: trio.Event | None = None,
    task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Make a pty, link ``link`` to its terminal end, then write ``lines`` to it (over and over
    with ``repeat``) until cancelled. The pause between lines only keeps a loop from spinning.

    Opening a serial port flushes what waited in it, as it would on a real line; a test that
    needs every line (to know their numbers) passes ``begin`` and sets it once the port is open."""
    controller, terminal = os.openpty()
    tty.setraw(terminal)  # no echo, no line editing: bytes pass as a serial line passes them
    link.symlink_to(os.ttyname(terminal))
    stream = trio.lowlevel.FdStream(controller)
    try:
        task_status.started(link)
        if begin is not None:
            await begin.wait()
        while True:
            for line in lines:
                await stream.send_all(line)
                await trio.sleep(pause)
            if not repeat:
                await trio.sleep_forever()
    finally:
        await stream.aclose()
        os.close(terminal)
