"""The ANT+ device transport: ``ant:hr``, ``ant:power:12345``, ``ant:bike-sc?wheel=2.096``.

A session opens the stick, opens one channel for its sensor and turns each broadcast page into
Samples. It reports the sensor as connected while pages arrive and as disconnected after
``silence_s`` without any (the stick keeps searching, so it comes back by itself). A stick that
fails (unplugged, I/O error, openant error) is reopened with exponential backoff. The session
gives up with DeviceUnavailable only when no stick can be opened ``open_attempts`` times in a row:
a missing sensor is never a reason to give up, a missing stick is.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import attrs
import trio

from ...domain.backoff import Backoff
from ...domain.datatypes import DataType
from ...domain.devices import Device, DeviceStatus
from ...domain.errors import DeviceUnavailable
from ...ports.clock import Clock
from ...ports.devices import DeviceEvents
from ..clock import SystemClock
from .errors import DecodeError
from .framing import extended_channel_id
from .mapping import PageReader, reader_for, to_samples
from .profiles import BY_DEVICE_TYPE, PROFILES, Profile
from .spec import AntSpec, parse_spec
from .stick import ChannelPlan, ChannelsOpen, Page, StickEvent, StickFailed, run_stick

log = logging.getLogger(__name__)

NAME = "ant"
PAGE_BUFFER = 256  # about a minute of pages at 4 Hz


@attrs.frozen
class AntSettings:
    open_attempts: int = 5
    silence_s: float = 5.0
    backoff: Callable[[], Backoff] = Backoff
    clock: Clock = attrs.field(factory=SystemClock)


def describe(profile: Profile, device_id: str, number: int | None = None) -> Device:
    suffix = f" {number}" if number is not None else ""
    return Device(
        id=device_id,
        name=f"ANT+ {profile.title}{suffix}",
        transport=NAME,
        data_types=tuple(dt.value for dt in profile.data_types),
    )


class AntTransport:
    name = NAME
    # What ``wearstream transports`` lists: every profile's data types, in profile order.
    data_types = tuple(dict.fromkeys(dt.value for p in PROFILES.values() for dt in p.data_types))

    def __init__(self, settings: AntSettings | None = None) -> None:
        self._settings = settings or AntSettings()

    def scanner(self, stick: str | None = None) -> AntScanner:
        return AntScanner(stick)

    def open(self, spec: str) -> AntSession:
        return AntSession(parse_spec(spec), self._settings)


class AntScanner:
    """Listens with one wildcard channel per profile; each pairs with the first sensor of its
    kind, so a scan finds at most one sensor per profile (the nearest one usually wins)."""

    def __init__(self, stick: str | None = None) -> None:
        self._stick = stick

    async def scan(self, timeout: float) -> list[Device]:
        profiles = list(PROFILES.values())
        plans = [ChannelPlan(p.device_type, 0, p.period) for p in profiles]
        found: dict[str, Device] = {}
        failure: StickFailed | None = None
        send, recv = trio.open_memory_channel[StickEvent](PAGE_BUFFER)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_stick, self._stick, plans, send)
            with recv, trio.move_on_after(timeout):
                async for event in recv:
                    if isinstance(event, StickFailed):
                        failure = event
                        break
                    if isinstance(event, Page):
                        _note_sender(event, found)
            nursery.cancel_scope.cancel()
        if failure is not None and not failure.found:
            raise DeviceUnavailable(failure.reason)
        return sorted(found.values(), key=lambda device: device.id)


def _note_sender(page: Page, found: dict[str, Device]) -> None:
    sender = extended_channel_id(page.data)
    if sender is None:
        return
    number, device_type = sender
    profile = BY_DEVICE_TYPE.get(device_type)
    if profile is not None:
        device_id = f"{profile.name}:{number}"
        found.setdefault(device_id, describe(profile, device_id, number))


@attrs.define
class _Presence:
    """What was last reported about the sensor, so that only changes become STATUS frames."""

    device_id: str
    events: DeviceEvents
    connected: bool | None = None
    battery: int | None = None

    def seen(self) -> None:
        if self.connected is not True:
            self.connected = True
            self._report()

    def lost(self, reason: str) -> None:
        if self.connected is not False:
            self.connected = False
            self._report(reason)

    def battery_level(self, percent: int) -> None:
        if percent != self.battery:
            self.battery = percent
            self._report()

    def _report(self, reason: str | None = None) -> None:
        self.events.status(
            DeviceStatus(self.device_id, bool(self.connected), NAME, reason, self.battery)
        )


class AntSession:
    def __init__(self, spec: AntSpec, settings: AntSettings) -> None:
        self._spec = spec
        self._settings = settings
        self._device = describe(spec.profile, spec.device_id, spec.device_number)

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        presence = _Presence(self._device.id, events)
        backoff = self._settings.backoff()
        # one reader for the whole run: totals keep growing across stick reconnects
        reader = reader_for(self._spec.profile, self._spec.wheel_m)
        missing = 0
        while True:
            failure = await self._attempt(reader, user_id, presence)
            missing = 0 if failure.found else missing + 1
            if missing >= self._settings.open_attempts:
                raise DeviceUnavailable(f"ant:{self._device.id}: {failure.reason}")
            if presence.connected:
                backoff.reset()
            presence.lost(failure.reason)
            log.warning("ant:%s: %s; retrying", self._device.id, failure.reason)
            await trio.sleep(backoff.next_delay())

    async def _attempt(self, reader: PageReader, user_id: str, presence: _Presence) -> StickFailed:
        spec = self._spec
        plan = ChannelPlan(spec.profile.device_type, spec.device_number or 0, spec.profile.period)
        send, recv = trio.open_memory_channel[StickEvent](PAGE_BUFFER)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_stick, spec.stick, [plan], send)
            with recv:
                failure = await self._stream(recv, reader, user_id, presence)
            nursery.cancel_scope.cancel()
        return failure

    async def _stream(
        self,
        recv: trio.MemoryReceiveChannel[StickEvent],
        reader: PageReader,
        user_id: str,
        presence: _Presence,
    ) -> StickFailed:
        silence = self._settings.silence_s
        listening = False
        while True:
            event: StickEvent | None = None
            with trio.move_on_after(silence if listening else math.inf):
                try:
                    event = await recv.receive()
                except trio.EndOfChannel:
                    return StickFailed("the ANT stick stopped")
            if event is None:
                presence.lost(f"no ANT+ pages for {silence:g} s")
            elif isinstance(event, StickFailed):
                return event
            elif isinstance(event, ChannelsOpen):
                listening = True
            else:
                presence.seen()
                await self._deliver(event, reader, user_id, presence)

    async def _deliver(
        self, page: Page, reader: PageReader, user_id: str, presence: _Presence
    ) -> None:
        try:
            readings = reader.read(page.data[:8])
        except DecodeError as exc:
            log.warning("ant:%s: skipped a page: %s", self._device.id, exc)
            return
        now = self._settings.clock.now()
        for sample in to_samples(readings, now, user_id, self._device.id):
            await presence.events.sample(sample)
        for data_type, value in readings:
            if data_type is DataType.BATTERY:
                presence.battery_level(int(value))
