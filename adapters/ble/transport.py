"""The ``ble`` transport: Bluetooth LE sensors through bleak (BlueZ on Linux), on trio.

``BleSource.run`` owns one asyncio bridge thread for its whole life and loops: find the device,
connect, subscribe (``central.stream`` on the asyncio side), decode and map what arrives on the
trio side, and after a drop or any bleak/D-Bus error report the status and try again after a
backoff. A strap that is out of range or switched off is expected to come back, so a device not
found is reported once and scanning goes on. Only when Bluetooth itself cannot be used (no D-Bus
system bus, no BlueZ, no adapter) for ``attempts`` tries in a row (``ble:…?attempts=N``,
default 5) does the session give up, with the line ``wearstream scan`` prints for it too.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import parse_qsl, urlencode

import attrs
import trio

from ...adapters.clock import SystemClock
from ...domain.backoff import Backoff
from ...domain.devices import Device, DeviceStatus, Transport
from ...domain.errors import DeviceUnavailable, SpecError
from ...ports.clock import Clock
from ...ports.devices import DeviceEvents
from . import central
from .asyncio_bridge import AsyncioLoop, open_asyncio_loop
from .errors import DecodeError, bluetooth_unreachable
from .gatt import BATTERY_LEVEL, CHARACTERISTICS, data_types_of, service_names
from .mapping import SampleMapper
from .polar.options import PmdOptions, split_spec
from .polar.receiver import PmdReceiver, StreamFailed, StreamStarted
from .polar.service import PMD_DATA, PMD_SERVICE, SERVICE_NAME as PMD_NAME
from .polar.starter import start_streams
from .spec import Target, parse_spec

logger = logging.getLogger(__name__)

NAME = Transport.BLE.value
# Notifications waiting for the trio side; a strap sends ~1/s, a power meter ~4/s.
NOTIFY_BUFFER = 256

Event = central.Connected | central.Value | StreamStarted | StreamFailed
# Attempts in a row that find Bluetooth itself unusable (no D-Bus, no BlueZ, no adapter) before
# the device gives up (about 8 s with the backoff; the systemd unit restarts the producer, so
# bluetoothd starting after it at boot is ridden out: docs/ble.md).
DEFAULT_UNREACHABLE_ATTEMPTS = 5


class _Unreachable(str):
    """A reason that says Bluetooth itself cannot be used here (``bluetooth_unreachable``)."""
_PMD_TYPES = ("ECG", "ACCELERATION")


def _describe(address: str, name: str | None, service_uuids: tuple[str, ...]) -> Device:
    pmd = PMD_SERVICE in {u.lower() for u in service_uuids}
    return Device(
        id=address,
        name=name or address,
        transport=NAME,
        data_types=data_types_of(service_uuids) + (_PMD_TYPES if pmd else ()),
        services=service_names(service_uuids) + ((PMD_NAME,) if pmd else ()),
    )


class BleSource:
    """A session with one BLE device: reconnects until cancelled.

    The device id is the BLE address. A ``name=`` spec is pinned to the address of the first
    device that matched, so the samples of one session keep one ``device_id``. ``pmd`` asks a
    Polar device for ECG/acceleration streams, (re)started on every connection.
    """

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        find_timeout: float = 10.0,
        connect_timeout: float = 20.0,
        pmd: PmdOptions | None = None,
        unreachable_attempts: int = DEFAULT_UNREACHABLE_ATTEMPTS,
    ) -> None:
        if unreachable_attempts < 1:
            raise ValueError("unreachable_attempts must be at least 1")
        self._target = target
        self._unreachable_attempts = unreachable_attempts
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff(initial=1.0, maximum=30.0)
        self._find_timeout = find_timeout
        self._connect_timeout = connect_timeout
        self._device = Device(str(target), target.name_pattern or str(target), NAME)
        self._pmd = pmd if pmd is not None and pmd.requested else None
        # One for the whole session: the device clock, and so its sync, survive a drop.
        self.pmd_receiver = PmdReceiver()

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        async with open_asyncio_loop() as loop:
            gave_up = await self._reconnect(loop, user_id, events)
        raise DeviceUnavailable(f"ble:{self._target}: {gave_up}")  # outside the bridge's nursery

    async def _reconnect(self, loop: AsyncioLoop, user_id: str, events: DeviceEvents) -> str:
        """Connect again and again; returns why it gave up (Bluetooth itself unusable)."""
        last_failure: str | None = None
        unreachable = 0  # attempts in a row that found Bluetooth itself unusable
        while True:
            connected, reason = await self._connection(loop, user_id, events)
            unreachable = unreachable + 1 if isinstance(reason, _Unreachable) else 0
            if unreachable >= self._unreachable_attempts:
                return reason
            if connected or reason != last_failure:
                if unreachable == 1:
                    logger.warning("ble:%s: %s; trying again", self._target, reason)
                events.status(DeviceStatus(self._device.id, False, NAME, reason=str(reason)))
            last_failure = None if connected else reason
            await trio.sleep(self._backoff.next_delay())

    async def _connection(
        self, loop: AsyncioLoop, user_id: str, events: DeviceEvents
    ) -> tuple[bool, str]:
        """One connection, from scanning to its end: (whether it connected, why it ended)."""
        send, receive = trio.open_memory_channel[Event](NOTIFY_BUFFER)
        session = _Session(self, user_id, events)
        extension = functools.partial(start_streams, self._pmd) if self._pmd else None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.consume, receive)
            async with send:
                try:
                    reason = await loop.run(
                        central.stream,
                        self._target,
                        loop.forward_to(send),
                        self._clock,
                        self._find_timeout,
                        self._connect_timeout,
                        extension,
                    )
                except central.NotFound as exc:
                    reason = str(exc)
                except Exception as exc:  # bleak, dbus-fast, BlueZ: all mean "try again"…
                    unreachable = bluetooth_unreachable(exc)
                    if unreachable is not None:  # …but this one: Bluetooth itself is missing
                        return False, _Unreachable(unreachable)
                    logger.info("%s: %s: %s", self._target, type(exc).__name__, exc)
                    logger.debug("%s: connection failed", self._target, exc_info=True)
                    reason = _described(exc)
        return session.connected, reason

    def note_connected(self, c: central.Connected) -> Device:
        """Pin the target to the address found and describe the device from its services."""
        self._target = Target(address=c.address)
        self._device = _describe(c.address, c.name, c.service_uuids)
        return self._device

    def note_battery(self, level: int) -> None:
        self._device = attrs.evolve(self._device, battery=level)

    def note_working(self) -> None:
        """A value decoded: the connection works, so the next drop starts the backoff anew."""
        self._backoff.reset()


class _Session:
    """The trio side of one connection: decodes values, maps them, delivers samples."""

    def __init__(self, source: BleSource, user_id: str, events: DeviceEvents) -> None:
        self._source = source
        self._user_id = user_id
        self._events = events
        self._mapper: SampleMapper | None = None
        self.connected = False

    async def consume(self, receive: trio.MemoryReceiveChannel[Event]) -> None:
        async with receive:
            async for event in receive:
                if isinstance(event, central.Connected):
                    device = self._source.note_connected(event)
                    self.connected = True
                    self._mapper = SampleMapper(self._user_id, device.id)
                    self._events.status(DeviceStatus(device.id, True, NAME))
                elif isinstance(event, StreamStarted):
                    self._source.pmd_receiver.started(event)
                elif isinstance(event, StreamFailed):
                    self._stream_failed(event)
                elif event.uuid == PMD_DATA:
                    await self._pmd_value(event)
                else:
                    await self._value(event)

    def _stream_failed(self, event: StreamFailed) -> None:
        """Say why a PMD stream is missing; heart rate and the rest go on."""
        assert self._mapper is not None
        what = event.measurement.name if event.measurement is not None else "ECG/ACC"
        reason = f"{what} not started: {event.reason}"
        self._events.status(DeviceStatus(self._mapper.device_id, True, NAME, reason=reason))

    async def _pmd_value(self, value: central.Value) -> None:
        assert self._mapper is not None  # Connected always comes first
        try:
            samples = self._source.pmd_receiver.samples(
                value.data, value.ts, self._user_id, self._mapper.device_id
            )
        except DecodeError as exc:
            logger.warning("skipped a malformed PMD frame: %s (%s)", exc, value.data[:32].hex())
            return
        self._source.note_working()
        for sample in samples:
            await self._events.sample(sample)

    async def _value(self, value: central.Value) -> None:
        characteristic = CHARACTERISTICS[value.uuid]
        try:
            record = characteristic.decode(value.data)
        except DecodeError as exc:
            logger.warning("skipped a malformed value: %s (%s)", exc, value.data.hex())
            return
        assert self._mapper is not None  # Connected always comes first
        self._source.note_working()
        device_id = self._mapper.device_id
        if characteristic is BATTERY_LEVEL and record != self._source.device.battery:
            self._source.note_battery(record)
            self._events.status(DeviceStatus(device_id, True, NAME, battery=record))
        for sample in self._mapper.samples(record, value.ts):
            await self._events.sample(sample)


class BleScanner:
    async def scan(self, timeout: float) -> list[Device]:
        """Sensors advertising a known service; DeviceUnavailable when Bluetooth is not usable."""
        try:
            async with open_asyncio_loop() as loop:
                seen = await loop.run(central.scan, timeout)
        except Exception as exc:
            reason = bluetooth_unreachable(exc) or _described(exc)
            raise DeviceUnavailable(f"Bluetooth LE scan failed: {reason}") from exc
        return [_describe(a.address, a.name, a.service_uuids) for a in seen]


def _described(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class BleTransport:
    """What the ``ble`` entry point of ``wearstream.transports`` names."""

    name = NAME
    # What ``wearstream transports`` lists: every characteristic's types, and Polar PMD's.
    data_types = data_types_of([c.service.uuid for c in CHARACTERISTICS.values()]) + _PMD_TYPES

    def scanner(self) -> BleScanner:
        return BleScanner()

    def open(self, spec: str) -> BleSource:
        """``ADDRESS`` or ``name=GLOB``, optionally ``?ecg=1&acc=50`` for a Polar device and
        ``attempts=N`` (tries before giving up when Bluetooth itself is unusable)."""
        spec, attempts = _attempts_option(spec)
        target, pmd = split_spec(spec)
        return BleSource(parse_spec(target), pmd=pmd, unreachable_attempts=attempts)


def _attempts_option(spec: str) -> tuple[str, int]:
    """``spec`` without its ``attempts=N`` option, and N (the default when absent)."""
    base, _, query = spec.partition("?")
    rest, attempts = [], DEFAULT_UNREACHABLE_ATTEMPTS
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "attempts":
            rest.append((key, value))
        elif value.isdigit() and int(value) > 0:
            attempts = int(value)
        else:
            raise SpecError(f"ble: option attempts={value!r} needs a positive whole number")
    return (f"{base}?{urlencode(rest)}" if rest else base), attempts
