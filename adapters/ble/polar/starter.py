"""The asyncio side of PMD: subscribe, ask the control point, start the streams.

Runs inside ``central.stream`` (on the bridge's asyncio loop) once the standard characteristics
are subscribed, so heart rate and RR flow from the first second whatever PMD does. For each
stream asked for: get its settings, choose (``options.choose_settings``), start; a refusal, a
missing service or a silent control point is reported as ``StreamFailed`` and the connection
goes on. D-Bus and bleak errors propagate: they mean the link is gone.

Ordering: the data characteristic may notify the first frame right behind the start response,
before the coroutine that awaits that response runs again. So ``StreamStarted`` is pushed from
the indication callback itself, which keeps it ahead of every frame of its stream.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from ....ports.clock import Clock
from ..central import Value
from ..errors import DecodeError
from .control import (
    ALREADY_IN_STATE,
    OpCode,
    Response,
    Setting,
    decode_continuation,
    decode_response,
    decode_settings,
    get_settings_request,
    start_request,
    stop_request,
)
from .options import PmdOptions, PmdSetupError, choose_settings
from .receiver import StreamFailed, StreamStarted
from .service import PMD_CONTROL_POINT, PMD_DATA, Measurement

logger = logging.getLogger(__name__)

RESPONSE_TIMEOUT_S = 5.0

Push = Callable[[Any], None]


class _ControlPoint:
    """Requests written with response; their answers taken from the indications."""

    def __init__(self, client: BleakClient, char: BleakGATTCharacteristic, push: Push) -> None:
        self._client = client
        self._char = char
        self._push = push
        self._indications: asyncio.Queue[bytes] = asyncio.Queue()
        self.starting: dict[int, dict[Setting, int]] = {}

    def on_indication(self, _: BleakGATTCharacteristic, data: bytearray) -> None:
        value = bytes(data)
        self._note_started(value)
        self._indications.put_nowait(value)

    def _note_started(self, value: bytes) -> None:
        try:
            response = decode_response(value)
            chosen = self.starting.get(response.measurement)
            if response.op_code != OpCode.START or not response.ok or chosen is None:
                return
            factor = decode_settings(response.parameters).get(Setting.FACTOR, (1.0,))[0]
        except DecodeError:
            return  # a continuation, or garbage: ``request`` deals with it
        resolution = chosen.get(Setting.RESOLUTION)
        measurement = Measurement(response.measurement)
        self._push(StreamStarted(measurement, chosen[Setting.SAMPLE_RATE], resolution, factor))

    async def request(self, packet: bytes) -> Response:
        while not self._indications.empty():
            self._indications.get_nowait()  # stale: nothing is waiting for it
        await self._client.write_gatt_char(self._char, packet, response=True)
        response = decode_response(await self._next())
        if (response.op_code, response.measurement) != (packet[0], packet[1]):
            raise PmdSetupError(
                f"the control point answered op {response.op_code} for {response.measurement}, "
                f"not op {packet[0]} for {packet[1]}"
            )
        parameters, more = response.parameters, response.more
        while more:
            more, extra = decode_continuation(await self._next())
            parameters += extra
        return Response(response.op_code, response.measurement, response.status, False, parameters)

    async def _next(self) -> bytes:
        try:
            return await asyncio.wait_for(self._indications.get(), RESPONSE_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise PmdSetupError(f"no answer from the control point within {RESPONSE_TIMEOUT_S:g} s") from None


async def start_streams(options: PmdOptions, client: BleakClient, push: Push, clock: Clock) -> None:
    """Start what ``options`` asks for on a connected client; report each outcome by ``push``."""
    cp = client.services.get_characteristic(PMD_CONTROL_POINT)
    data = client.services.get_characteristic(PMD_DATA)
    if cp is None or data is None:
        reason = "the device has no Polar Measurement Data service"
        logger.warning("%s: ECG/ACC not started: %s", client.address, reason)
        push(StreamFailed(None, reason))
        return
    control = _ControlPoint(client, cp, push)
    await client.start_notify(cp, control.on_indication)
    await client.start_notify(data, lambda _, value: push(Value(PMD_DATA, bytes(value), clock.now())))
    for measurement, wanted in options.requests():
        try:
            await _start(control, measurement, wanted)
        except (PmdSetupError, DecodeError) as exc:
            logger.warning("%s: %s not started: %s", client.address, measurement.name, exc)
            push(StreamFailed(measurement, str(exc)))


async def _start(control: _ControlPoint, measurement: Measurement, wanted: dict[Setting, int]) -> None:
    offered = await control.request(get_settings_request(measurement))
    if not offered.ok:
        raise PmdSetupError(f"get settings refused: {offered.error}")
    chosen = choose_settings(measurement, decode_settings(offered.parameters), wanted)
    control.starting[measurement] = chosen
    started = await control.request(start_request(measurement, chosen))
    if started.status == ALREADY_IN_STATE:  # left running by an earlier connection: restart it
        await control.request(stop_request(measurement))
        started = await control.request(start_request(measurement, chosen))
    if not started.ok:
        raise PmdSetupError(f"start refused: {started.error}")
