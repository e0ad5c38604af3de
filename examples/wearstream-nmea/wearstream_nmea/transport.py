"""The ``nmea`` transport: a GPS receiver on a serial port, through pyserial, under trio.

pyserial opens and configures the port (baud, 8N1, exclusive use); reading waits on the file
descriptor with trio, so no thread is needed and a cancel stops the session at once (POSIX:
Linux, the Raspberry Pi, macOS). Lines are cut at ``\\n``; each is parsed by ``sentences``; a
bad one is logged with the port and its line number, counted in ``bad_sentences`` and skipped.
A port that fails (unplugged, EIO) is reported as a drop and opened again with backoff.
"""

from __future__ import annotations

import logging
import serial
import serial.tools.list_ports
import trio

from wearstream.domain.backoff import Backoff
from wearstream.domain.datatypes import DataType
from wearstream.domain.devices import Device, DeviceStatus
from wearstream.domain.samples import Sample
from wearstream.ports.devices import DeviceEvents

from .sentences import BadSentence, Receiver
from .spec import NmeaSpec, parse_spec

log = logging.getLogger("wearstream_nmea")

NAME = "nmea"
DATA_TYPES = (DataType.LOCATION.value, DataType.SPEED.value)
MAX_LINE = 512  # NMEA allows 82 characters; a longer run without a line end is noise
READ_BYTES = 4096


class PortFailed(Exception):
    """The serial port cannot be opened or read; the session opens it again later."""


class NmeaSource:
    """A session with one receiver: runs until cancelled, reopening the port when it fails."""

    def __init__(self, spec: NmeaSpec) -> None:
        self._spec = spec
        self._device = Device(spec.device_id, f"GPS on {spec.port}", NAME, DATA_TYPES)
        self._receiver = Receiver()
        self.lines = 0  # lines read, over every connection: where a bad one was
        self.bad_sentences = 0

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        backoff = Backoff(initial=1.0, maximum=30.0)
        while True:
            try:
                await self._connected(user_id, events, backoff)
            except PortFailed as error:
                log.warning("%s: %s", self._spec.port, error)
                events.status(DeviceStatus(self._device.id, False, NAME, str(error)))
            await trio.sleep(backoff.next_delay())

    async def _connected(self, user_id: str, events: DeviceEvents, backoff: Backoff) -> None:
        port = self._open()
        try:
            events.status(DeviceStatus(self._device.id, True, NAME))
            backoff.reset()
            pending = b""
            while True:
                await trio.lowlevel.wait_readable(port.fileno())
                pending += self._read(port)
                *lines, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    await self._line(line, user_id, events)
        finally:
            port.close()

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self._spec.port, self._spec.baud, timeout=0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as error:
            raise PortFailed(f"cannot open: {error}") from None

    def _read(self, port: serial.Serial) -> bytes:
        try:
            data = port.read(READ_BYTES)
        except (serial.SerialException, OSError) as error:
            raise PortFailed(f"read failed: {error}") from None
        if not data:
            raise PortFailed("the port reported data but gave none (unplugged?)")
        return data

    async def _line(self, line: bytes, user_id: str, events: DeviceEvents) -> None:
        self.lines += 1
        text = line.strip(b"\r\n\x00 ")
        if not text:
            return
        try:
            readings = self._receiver.readings(text.decode("ascii"))
        except (UnicodeDecodeError, BadSentence) as error:
            reason = "not ASCII" if isinstance(error, UnicodeDecodeError) else str(error)
            self.bad_sentences += 1
            log.warning("%s: line %d skipped, %s: %r", self._spec.port, self.lines, reason, text[:82])
            return
        for label, ts, value in readings:
            await events.sample(Sample(label, ts, value, user_id, self._device.id))


class NmeaScanner:
    async def scan(self, timeout: float) -> list[Device]:
        """Every serial port: a port does not say whether a GPS is behind it until opened."""
        ports = await trio.to_thread.run_sync(serial.tools.list_ports.comports)
        return [
            Device(parse_spec(p.device).device_id, p.description or p.device, NAME, DATA_TYPES)
            for p in ports
        ]


class NmeaTransport:
    """What the ``nmea`` entry point of ``wearstream.transports`` names."""

    name = NAME
    data_types = DATA_TYPES

    def scanner(self) -> NmeaScanner:
        return NmeaScanner()

    def open(self, spec: str) -> NmeaSource:
        return NmeaSource(parse_spec(spec))
