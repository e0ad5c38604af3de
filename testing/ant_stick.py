"""An emulated ANT USB stick on a pseudo-terminal, with emulated ANT+ sensors on the air.

The host side opens the pty's slave path like any serial ANT stick and speaks the ANT serial
message format to it (sync 0xA4, length, message id, payload, XOR checksum). The stick answers
as the ANT Message Protocol and Usage document describes: a start-up message after a reset, the
capabilities / serial number / version on request, a channel response (``0x40``, code 0) to each
configuration message, and, once a slave channel is open on the ANT+ network key and RF channel
57, the broadcast pages of the first sensor whose device type and number match its channel ID
(0 is the wildcard), with the sender's channel ID appended when extended messages are on. A
silent sensor yields EVENT_RX_FAIL instead; ``corrupt_next()`` sends one broadcast with a broken
checksum after some line noise.

The sensors generate real pages from a sensor clock that advances by the profile's message period
per page, however fast the stick sends them, so decoded values are those of a real ride or run.
"""

from __future__ import annotations

import os
import tty
from contextlib import asynccontextmanager
from typing import AsyncIterator

import attrs
import trio

from ..adapters.ant.framing import FrameSplitter, encode_message
from ..adapters.ant.profiles import ANTPLUS_NETWORK_KEY, ANTPLUS_RF_FREQUENCY

RESPONSE_CHANNEL = 0x40
CHANNEL_EVENT = 0x01
EVENT_RX_FAIL = 0x02
INVALID_MESSAGE = 0x28
STARTUP_MESSAGE = 0x6F
BROADCAST = 0x4E
CHANNELS = 8


def _u16(value: int) -> list[int]:
    return [value & 0xFF, value >> 8 & 0xFF]


def _ticks(seconds: float) -> int:
    """A time in the 1/1024 s units of ANT+ event times, 16-bit rolling."""
    return int(seconds * 1024) % 65536


@attrs.define
class EmulatedSensor:
    """A sensor on the ANT+ network: its channel ID, its period and whether it is in range."""

    number: int
    device_type: int = 0
    period_s: float = 0.25
    silent: bool = False
    sent: int = 0
    clock_s: float = 0.0

    def next_page(self) -> bytes:
        self.clock_s += self.period_s
        page = self._page()
        self.sent += 1
        return bytes(page)

    def _page(self) -> list[int]:
        raise NotImplementedError


@attrs.define
class HeartRateStrap(EmulatedSensor):
    """Pages 4 (with the previous beat time) and, every 16th message, page 7 (battery)."""

    bpm: float = 150.0
    battery: int = 87
    device_type: int = 120
    period_s: float = 8070 / 32768
    beats: int = 250  # the 8-bit beat count rolls over soon
    last_beat_s: float = 60.0  # the 16-bit beat time (64 s) rolls over soon
    previous_beat_s: float = 60.0
    clock_s: float = 60.0

    def _page(self) -> list[int]:
        while self.last_beat_s + 60 / self.bpm <= self.clock_s:
            self.previous_beat_s = self.last_beat_s
            self.last_beat_s += 60 / self.bpm
            self.beats += 1
        toggle = 0x80 if self.sent // 4 % 2 else 0
        common = [*_u16(_ticks(self.last_beat_s)), self.beats % 256, round(self.bpm)]
        if self.sent % 16 == 15:
            return [toggle | 7, self.battery, 0x40, 0x23, *common]
        return [toggle | 4, 0xFF, *_u16(_ticks(self.previous_beat_s)), *common]


@attrs.define
class StrideSensor(EmulatedSensor):
    """Page 1 (time, distance, speed, strides), with page 2 every 4th message. Page 1's time is
    that of the last stride, when the SDM last computed distance and speed."""

    speed: float = 3.2  # m/s
    strides_per_min: float = 84.0
    device_type: int = 124
    period_s: float = 8134 / 32768
    distance_m: float = 250.0  # the 8-bit distance rolls over soon
    strides: int = 250
    stride_s: float = 0.0

    def _page(self) -> list[int]:
        while self.stride_s + 60 / self.strides_per_min <= self.clock_s:
            self.stride_s += 60 / self.strides_per_min
            self.strides += 1
            self.distance_m += self.speed * 60 / self.strides_per_min
        speed_int, speed_frac = int(self.speed), self.speed % 1
        if self.sent % 4 == 3:
            cadence = int(self.strides_per_min)
            return [2, 0xFF, 0xFF, cadence, speed_int & 0x0F, int(speed_frac * 256), 0xFF, 0x10]
        time = self.stride_s % 256
        return [
            1,
            int(time % 1 * 200),
            int(time),
            int(self.distance_m) % 256,
            int(self.distance_m % 1 * 16) << 4 | speed_int & 0x0F,
            int(speed_frac * 256),
            self.strides % 256,
            0x02,
        ]


@attrs.define
class BikeSpeedCadenceSensor(EmulatedSensor):
    """The combined speed and cadence page, its revolution counts close to 16-bit rollover."""

    speed: float = 8.0  # m/s
    rpm: float = 90.0
    wheel_m: float = 2.105
    device_type: int = 121
    period_s: float = 8086 / 32768
    wheel_revs: int = 65530
    crank_revs: int = 65532
    wheel_event_s: float = 0.0
    crank_event_s: float = 0.0

    def _page(self) -> list[int]:
        while self.wheel_event_s + self.wheel_m / self.speed <= self.clock_s:
            self.wheel_event_s += self.wheel_m / self.speed
            self.wheel_revs += 1
        while self.crank_event_s + 60 / self.rpm <= self.clock_s:
            self.crank_event_s += 60 / self.rpm
            self.crank_revs += 1
        return [
            *_u16(_ticks(self.crank_event_s)),
            *_u16(self.crank_revs % 65536),
            *_u16(_ticks(self.wheel_event_s)),
            *_u16(self.wheel_revs % 65536),
        ]


@attrs.define
class PowerMeter(EmulatedSensor):
    """Page 0x10 (power only), with common page 0x50 (manufacturer) every 8th message."""

    watts: int = 240
    rpm: int = 88
    device_type: int = 11
    period_s: float = 8182 / 32768
    events: int = 250
    accumulated: int = 65000  # the 16-bit accumulated power rolls over within a few pages

    def _page(self) -> list[int]:
        if self.sent % 8 == 7:
            return [0x50, 0xFF, 0xFF, 0x01, *_u16(0x00FF), *_u16(0x0001)]
        self.events += 1
        self.accumulated += self.watts
        return [
            0x10,
            self.events % 256,
            0xFF,
            self.rpm,
            *_u16(self.accumulated % 65536),
            *_u16(self.watts),
        ]


@attrs.define
class _Channel:
    assigned: bool = False
    device_number: int = 0
    device_type: int = 0
    rf_frequency: int = 66  # the ANT default, not ANT+
    open: bool = False
    paired: EmulatedSensor | None = None


class EmulatedStick:
    """The stick: create with sensors, ``async with stick.running():``, then open ``stick.path``."""

    def __init__(self, sensors: list[EmulatedSensor], interval_s: float = 0.01) -> None:
        self.sensors = sensors
        self.interval_s = interval_s
        self.requests: list[tuple[int, bytes]] = []
        self._channels = [_Channel() for _ in range(CHANNELS)]
        self._network_key = b""
        self._extended = False
        self._corrupt = 0
        self.corrupted = 0
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: binary both ways
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._send_lock = trio.Lock()

    def corrupt_next(self) -> None:
        """The next broadcast goes out with noise before it and a broken checksum."""
        self._corrupt += 1

    @asynccontextmanager
    async def running(self) -> AsyncIterator[EmulatedStick]:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._serve_requests)
                nursery.start_soon(self._broadcast)
                yield self
                nursery.cancel_scope.cancel()
        finally:
            os.close(self._master)
            os.close(self._slave)

    async def _serve_requests(self) -> None:
        splitter = FrameSplitter()
        while True:
            await trio.lowlevel.wait_readable(self._master)
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            for frame in splitter.feed(data):
                await self._answer(frame[2], frame[3:-1])

    async def _answer(self, message_id: int, payload: bytes) -> None:
        self.requests.append((message_id, payload))
        if message_id == 0x4A:  # reset system
            self._channels = [_Channel() for _ in range(CHANNELS)]
            self._extended = False
            await self._send(STARTUP_MESSAGE, bytes([0x20]))
        elif message_id == 0x4D:  # request message
            await self._answer_request(payload[0], payload[1])
        else:
            await self._configure(message_id, payload)

    async def _answer_request(self, channel: int, wanted: int) -> None:
        if wanted == 0x54:  # capabilities: 8 channels, 8 networks, extended messages
            await self._send(0x54, bytes([CHANNELS, 8, 0x00, 0x3A, 0x26, 0x00, 0x00]))
        elif wanted == 0x61:
            await self._send(0x61, (0x1234ABCD).to_bytes(4, "little"))
        elif wanted == 0x3E:
            await self._send(0x3E, b"EMU1.00\x00")
        elif wanted == 0x51 and channel < CHANNELS:
            state = self._channels[channel]
            sensor = state.paired
            number = sensor.number if sensor else state.device_number
            kind = sensor.device_type if sensor else state.device_type
            await self._send(0x51, bytes([channel, *_u16(number), kind, 1]))
        else:
            await self._respond(channel, 0x4D, INVALID_MESSAGE)

    async def _configure(self, message_id: int, payload: bytes) -> None:
        channel = payload[0]
        if message_id == 0x46:  # set network key
            self._network_key = bytes(payload[1:9])
            await self._respond(channel, message_id, 0)
            return
        if message_id == 0x66:  # enable extended messages (a stick-wide setting)
            self._extended = bool(payload[1])
            await self._respond(0, message_id, 0)
            return
        if channel >= CHANNELS:
            await self._respond(channel, message_id, INVALID_MESSAGE)
            return
        state = self._channels[channel]
        if message_id == 0x42:
            state.assigned = True
        elif message_id == 0x41:
            self._channels[channel] = _Channel()
        elif message_id == 0x51:
            state.device_number = payload[1] | payload[2] << 8
            state.device_type = payload[3] & 0x7F
        elif message_id == 0x45:
            state.rf_frequency = payload[1]
        elif message_id == 0x4B:
            state.open = state.assigned
        elif message_id == 0x4C:
            state.open = False
        await self._respond(channel, message_id, 0)

    async def _broadcast(self) -> None:
        while True:
            await trio.sleep(self.interval_s)
            for number, state in enumerate(self._channels):
                if state.open:
                    await self._broadcast_on(number, state)

    async def _broadcast_on(self, number: int, state: _Channel) -> None:
        sensor = state.paired or self._find(state)
        if sensor is None or sensor.silent:
            await self._send(RESPONSE_CHANNEL, bytes([number, CHANNEL_EVENT, EVENT_RX_FAIL]))
            return
        state.paired = sensor
        payload = bytes([number]) + sensor.next_page()
        if self._extended:
            payload += bytes([0x80, *_u16(sensor.number), sensor.device_type, 1])
        await self._send(BROADCAST, payload)

    def _find(self, state: _Channel) -> EmulatedSensor | None:
        if self._network_key != bytes(ANTPLUS_NETWORK_KEY):
            return None
        if state.rf_frequency != ANTPLUS_RF_FREQUENCY:
            return None
        for sensor in self.sensors:
            if sensor.silent:
                continue
            if state.device_type not in (0, sensor.device_type):
                continue
            if state.device_number in (0, sensor.number):
                return sensor
        return None

    async def _respond(self, channel: int, message_id: int, code: int) -> None:
        await self._send(RESPONSE_CHANNEL, bytes([channel, message_id, code]))

    async def _send(self, message_id: int, payload: bytes) -> None:
        frame = encode_message(message_id, payload)
        if message_id == BROADCAST and self._corrupt:
            self._corrupt -= 1
            self.corrupted += 1
            frame = b"\x00\xa4\x03" + frame[:-1] + bytes([frame[-1] ^ 0x5A])
        async with self._send_lock:
            view = memoryview(frame)
            while view:
                await trio.lowlevel.wait_writable(self._master)
                try:
                    view = view[os.write(self._master, view):]
                except BlockingIOError:
                    continue
