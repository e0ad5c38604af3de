"""The tty driver under openant's reader thread must never block past its read wait, or
stopping the node (which joins that thread) hangs forever: the cause of the flaky
tests/ant/test_through_openant.py (issue 15)."""

from __future__ import annotations

import os
import threading
import time
import tty

from wearstream.adapters.ant.stick import READ_WAIT_S, TtyDriver

ROUNDS = 40
LATE_S = READ_WAIT_S + 0.4


def test_a_read_returns_even_when_the_bytes_select_saw_are_gone() -> None:
    """select() saying "readable" is no promise that a read still finds the bytes (another
    reader of the same tty took them, a flush dropped them); the read must then come back
    empty after its wait, not block until more bytes come, which may be never. Here a second
    reader of the same tty races the driver for each single byte."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(slave, False)
    driver = TtyDriver(os.ttyname(slave))
    driver.open()
    stop = threading.Event()

    def steal() -> None:
        while not stop.is_set():
            try:
                os.read(slave, 1)
            except BlockingIOError:
                pass

    thief = threading.Thread(target=steal)
    thief.start()
    blocked = 0
    try:
        for _ in range(ROUNDS):
            reader = threading.Thread(target=driver.read, daemon=True)
            reader.start()
            time.sleep(0.001)
            os.write(master, b"\xa4")
            reader.join(LATE_S)
            if reader.is_alive():  # blocked: free it, count it
                blocked += 1
                while reader.is_alive():
                    os.write(master, b"\xa4")
                    reader.join(0.01)
            if blocked:
                break
    finally:
        stop.set()
        thief.join()
        driver.close()
        os.close(master)
        os.close(slave)
    assert blocked == 0, "a read blocked, waiting for bytes after select() had seen some"
