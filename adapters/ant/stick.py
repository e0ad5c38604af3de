"""The bridge between openant and trio: the one module where threads live.

openant reads the stick in a thread of its own and calls back from another one (``Node.start``
runs the dispatch loop). Here those threads are started with ``trio.to_thread``, their pages cross
into trio through a bounded memory channel (``trio.from_thread`` with the trio token), and when
the trio task is cancelled the node is stopped and its threads joined before ``run_stick``
returns, so no thread outlives the task that opened the stick.

The stick is reached through openant's own driver interface (``openant.base.driver.Driver``):
``Node()`` builds its ``Ant``, which takes the first entry of openant's driver registry
(``openant.base.driver.drivers``, the last added first) whose ``find()`` is true. openant takes
no driver as an argument; its documented extension point is a ``Driver`` subclass in that
registry, which its own serial and USB drivers join once, when imported. ``OfferedDriver`` joins
it the same way, once at import, and is found only while a session offers the driver it built
(``_build_node``, one session at a time), so the registry is never edited at run time and every
other use of openant (its own auto-detection included) finds what it always found.
Every driver is wrapped in ``GuardedDriver``, which hands openant only whole, checksummed
messages (see ``framing``) and turns a stick that vanished into a ``StickFailed`` report instead
of a dead or spinning reader thread.
"""

from __future__ import annotations

import array
import logging
import os
import select
import termios
import threading
import time
import tty
from typing import Any, Callable

import attrs
import trio
from openant.base import driver as openant_driver
from openant.easy.channel import Channel
from openant.easy.node import Node
from usb.core import NoBackendError, USBTimeoutError

from .errors import StickUnavailable
from .framing import FrameSplitter
from .profiles import ANTPLUS_NETWORK_KEY, ANTPLUS_RF_FREQUENCY

log = logging.getLogger(__name__)

SEARCH_FOREVER = 0xFF  # a lost sensor is searched for until the channel is closed
READ_WAIT_S = 0.1  # how long a tty read blocks: short enough to stop promptly, long enough not to spin
FAILED_READ_WAIT_S = 0.2
WRITE_TIMEOUT_S = 5.0  # a stick that takes no bytes for this long has failed
JOIN_TIMEOUT_S = 5.0
_CHOOSING = threading.Lock()  # one node is built at a time: OfferedDriver holds one offer


@attrs.frozen
class ChannelPlan:
    """One receive channel: which sensor (device number 0 is the wildcard) on which period."""

    device_type: int
    device_number: int
    period: int


@attrs.frozen
class Page:
    channel: int
    data: bytes  # the 8-byte page, then the extended bytes when the stick sends them


@attrs.frozen
class StickFailed:
    """The stick could not be opened (``found`` False: there is none) or stopped working."""

    reason: str
    found: bool = True


@attrs.frozen
class ChannelsOpen:
    """The stick is set up and listening: from now on, silence means the sensor is away."""


StickEvent = Page | StickFailed | ChannelsOpen
Deliver = Callable[[StickEvent], None]


class TtyDriver(openant_driver.Driver):
    """A stick behind a serial port (ANT USB sticks with a USB-serial bridge, or any tty)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None

    def open(self) -> None:
        # Non-blocking: select() saying "readable" is no promise that the bytes are still there
        # when read() comes (a flush, another reader of the same tty), and a blocking read would
        # then wait for bytes that may never come, in openant's reader thread, which stopping
        # the node joins: the session, and whoever cancels it, would hang for good.
        fd = os.open(self._path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(fd)
            attributes = termios.tcgetattr(fd)
            attributes[4] = attributes[5] = termios.B115200
            termios.tcsetattr(fd, termios.TCSANOW, attributes)
            termios.tcflush(fd, termios.TCIFLUSH)  # nothing left over from an earlier session
        except termios.error as exc:
            os.close(fd)
            raise OSError(f"{self._path} is not a serial port: {exc}") from exc
        self._fd = fd

    def read(self) -> array.array:
        fd = self._require_fd()
        ready, _, _ = select.select([fd], [], [], READ_WAIT_S)
        if not ready:
            return array.array("B")
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:  # the bytes select() saw are gone: nothing this time
            return array.array("B")
        if not data:  # readable yet empty: the port hung up (a USB-serial stick unplugged)
            raise OSError(f"{self._path} hung up")
        return array.array("B", data)

    def write(self, data: Any) -> None:
        view = memoryview(bytes(data))
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while view:
            fd = self._require_fd()
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:  # the stick is not taking bytes: wait, boundedly
                if time.monotonic() >= deadline:
                    raise OSError(f"{self._path} took no bytes for {WRITE_TIMEOUT_S:g} s") from None
                select.select([], [fd], [], READ_WAIT_S)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _require_fd(self) -> int:
        if self._fd is None:
            raise OSError(f"{self._path} is not open")
        return self._fd


class GuardedDriver(openant_driver.Driver):
    """Wraps a driver: passes only valid messages, reports a failed stick once through ``deliver``
    (and again on each later read, in case the report was dropped) and then idles, because
    openant's reader thread dies on unexpected errors and spins on repeated USB errors."""

    def __init__(self, inner: openant_driver.Driver, deliver: Deliver) -> None:
        self._inner = inner
        self._deliver = deliver
        self._splitter = FrameSplitter()
        self._failure: str | None = None

    def open(self) -> None:
        self._inner.open()

    def close(self) -> None:
        try:
            self._inner.close()
        except OSError as exc:
            log.debug("closing the ANT stick: %s", exc)

    def read(self) -> array.array:
        if self._failure is None:
            try:
                data = self._inner.read()
            except USBTimeoutError:
                raise  # openant expects these between messages
            except OSError as exc:
                self._fail(f"reading from the ANT stick failed: {exc}")
            else:
                skipped = self._splitter.skipped
                frames = self._splitter.feed(bytes(data))
                if self._splitter.skipped > skipped:
                    log.warning("skipped %d corrupt bytes from the ANT stick",
                                self._splitter.skipped - skipped)
                return array.array("B", b"".join(frames))
        time.sleep(FAILED_READ_WAIT_S)
        self._deliver(StickFailed(self._failure or "the ANT stick failed"))
        return array.array("B")

    def write(self, data: Any) -> None:
        if self._failure is not None:
            return
        try:
            self._inner.write(data)
        except OSError as exc:
            self._fail(f"writing to the ANT stick failed: {exc}")

    def _fail(self, reason: str) -> None:
        self._failure = reason
        log.warning("%s", reason)
        self._deliver(StickFailed(reason))


class OfferedDriver(openant_driver.Driver):
    """openant's registry entry for the driver a session built (see the module docstring):
    ``find()`` is true only while ``offered`` holds one, and the instance openant makes takes it
    and passes every call on to it."""

    offered: openant_driver.Driver | None = None  # set and cleared under _CHOOSING

    @classmethod
    def find(cls) -> bool:
        return cls.offered is not None

    def __init__(self) -> None:
        inner, OfferedDriver.offered = OfferedDriver.offered, None
        if inner is None:
            raise openant_driver.DriverNotFound("no ANT driver was offered")
        self.inner = inner

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def read(self) -> Any:
        return self.inner.read()

    def write(self, data: Any) -> None:
        self.inner.write(data)


openant_driver.drivers.append(OfferedDriver)  # once, as openant's own drivers register


def _inner_driver(device: str | None) -> openant_driver.Driver:
    if device is not None:
        return TtyDriver(device)
    try:
        return openant_driver.find_driver()
    except openant_driver.DriverNotFound:
        raise StickUnavailable(
            "no ANT USB stick found (Dynastream 0fcf:1008 or 0fcf:1009); "
            "is it plugged in and readable (see docs/ant.md)?"
        ) from None
    except NoBackendError:
        raise StickUnavailable("pyusb finds no libusb: install libusb-1.0") from None


def _build_node(device: str | None, deliver: Deliver) -> Node:
    with _CHOOSING:  # also around find_driver: it must not see another session's offer
        OfferedDriver.offered = GuardedDriver(_inner_driver(device), deliver)
        try:
            return Node()
        except (openant_driver.DriverException, OSError, ValueError) as exc:
            raise StickUnavailable(f"cannot open the ANT stick: {exc}") from exc
        finally:
            OfferedDriver.offered = None


def _configure(node: Node, plans: list[ChannelPlan], deliver: Deliver) -> None:
    """ANT+ network key on network 0, then one slave channel per plan (ANT Message Protocol and
    Usage, section 5.3: assign, channel ID, period, search timeout, RF frequency, open)."""
    node.set_network_key(0, list(ANTPLUS_NETWORK_KEY))
    channels = []
    for plan in plans:
        channel = node.new_channel(Channel.Type.BIDIRECTIONAL_RECEIVE)
        number = channel.id
        channel.on_broadcast_data = lambda data, number=number: deliver(Page(number, bytes(data)))
        channel.set_id(plan.device_number, plan.device_type, 0)
        channel.set_period(plan.period)
        channel.set_search_timeout(SEARCH_FOREVER)
        channel.set_rf_freq(ANTPLUS_RF_FREQUENCY)
        channels.append(channel)
    try:
        channels[0].enable_extended_messages(1)
    except Exception as exc:  # optional: older sticks answer with an error code
        log.info("the ANT stick sends no extended messages: %s", exc)
    for channel in channels:
        channel.open()


@attrs.define
class _Dispatch:
    """openant's dispatch loop (``Node.start``) in a trio worker thread. The thread goes back to
    trio's thread cache afterwards, so its end is an event rather than a join."""

    node: Node
    began: threading.Event = attrs.field(factory=threading.Event)
    ended: threading.Event = attrs.field(factory=threading.Event)

    def run(self) -> None:
        self.began.set()
        try:
            self.node.start()
        finally:
            self.ended.set()

    def stop(self) -> None:
        """Stop openant's threads and wait for the dispatch loop, if it got as far as starting
        (one that starts after this finds the node stopped and returns at once)."""
        self.node.stop()
        if self.began.is_set():
            self.ended.wait(JOIN_TIMEOUT_S)


def _open(
    device: str | None, plans: list[ChannelPlan], deliver: Deliver, held: list[_Dispatch]
) -> None:
    """Build the node and open the channels; the node is in ``held`` as soon as it exists, so
    that the caller stops it even when configuring fails or the task is cancelled meanwhile."""
    node = _build_node(device, deliver)
    held.append(_Dispatch(node))
    _configure(node, plans, deliver)


def _deliverer(send: trio.MemorySendChannel[StickEvent], token: trio.lowlevel.TrioToken) -> Deliver:
    def deliver(event: StickEvent) -> None:
        try:
            trio.from_thread.run_sync(send.send_nowait, event, trio_token=token)
        except trio.WouldBlock:
            log.warning("ANT events arrive faster than the session reads them: dropped %r", event)
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.RunFinishedError):
            pass  # the session is over; the node is being stopped

    return deliver


async def run_stick(
    device: str | None, plans: list[ChannelPlan], send: trio.MemorySendChannel[StickEvent]
) -> None:
    """Open the stick (``device``: a tty path, or None for the first USB stick), open ``plans``'
    channels and deliver pages into ``send`` until cancelled. Trouble with the stick is delivered
    as a final ``StickFailed``, never raised; ``send`` is closed on the way out."""
    deliver = _deliverer(send, trio.lowlevel.current_trio_token())
    held: list[_Dispatch] = []

    async with send:
        try:
            try:
                await trio.to_thread.run_sync(_open, device, plans, deliver, held)
                await send.send(ChannelsOpen())
                await trio.to_thread.run_sync(held[0].run, abandon_on_cancel=True)
            finally:
                if held:
                    with trio.CancelScope(shield=True):
                        await trio.to_thread.run_sync(held[0].stop)
        except StickUnavailable as exc:
            await _final(send, StickFailed(str(exc), found=False))
        except Exception as exc:  # openant raises bare Exception for error responses and timeouts
            await _final(send, StickFailed(f"ANT stick error: {exc}"))
        else:
            await _final(send, StickFailed("the ANT stick stopped"))


async def _final(send: trio.MemorySendChannel[StickEvent], event: StickFailed) -> None:
    try:
        await send.send(event)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
