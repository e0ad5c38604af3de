"""An emulated Polar H10 for the emulated BlueZ: Heart Rate plus the PMD service.

``PolarPmd`` plays the PMD side of an H10 on the asyncio thread of ``testing.bluez``: the
control point answers get-settings (ECG 130 Hz/14 bit; ACC 25-200 Hz, 16 bit, 2/4/8 g), start
and stop with indications, and while a stream runs the data characteristic notifies its frames
on the device's own clock (nanoseconds since 2000-01-01, starting at the H10's 2019-01-01 default
and optionally drifting): ECG in frames of 73 samples, ACC in frames of a fifth of a second,
uncompressed (frame type 1, as the H10) or delta-compressed (type 0x81). A dropped link stops
every stream, as on the real strap, so a reconnecting central has to start them again.

The encoders here are the inverse of ``adapters.ble.polar`` for tests and the emulation.
"""

from __future__ import annotations

import asyncio
import math
from typing import Iterable, Mapping, Sequence

import attrs

from ..adapters.ble.gatt import uuid16
from ..adapters.ble.polar.control import RESPONSE_CODE, Setting, decode_settings
from ..adapters.ble.polar.service import PMD_CONTROL_POINT, PMD_DATA, PMD_SERVICE, Measurement
from .bluez import BATTERY_SERVICE, HEART_RATE_SERVICE, _battery, strap_value
from .bluez_objects import CharacteristicPlan, GattCharacteristic1, PeripheralPlan

NS = 1_000_000_000
H10_DEFAULT_TIME_NS = 599_616_000 * NS  # 2019-01-01T00:00:00Z on the Polar epoch (2000-01-01)
ECG_RATE = 130
ECG_FRAME_SAMPLES = 73
ACC_RATES = (25, 50, 100, 200)
ACC_RANGES = (2, 4, 8)
OFFERED = {
    Measurement.ECG: {Setting.SAMPLE_RATE: (ECG_RATE,), Setting.RESOLUTION: (14,)},
    Measurement.ACC: {Setting.SAMPLE_RATE: ACC_RATES, Setting.RESOLUTION: (16,), Setting.RANGE: ACC_RANGES},
}
_SIZES = {Setting.SAMPLE_RATE: 2, Setting.RESOLUTION: 2, Setting.RANGE: 2, Setting.CHANNELS: 1}


# --- encoders ------------------------------------------------------------------------------


def encode_settings(settings: Mapping[Setting, Sequence[int]]) -> bytes:
    out = bytearray()
    for setting, values in settings.items():
        out += bytes([setting, len(values)])
        for v in values:
            out += int(v).to_bytes(_SIZES[setting], "little")
    return bytes(out)


def encode_response(op: int, measurement: int, status: int = 0, parameters: bytes = b"") -> bytes:
    return bytes([RESPONSE_CODE, op, measurement, status, 0]) + parameters


def encode_header(measurement: int, timestamp_ns: int, frame_type: int) -> bytes:
    return bytes([measurement]) + timestamp_ns.to_bytes(8, "little") + bytes([frame_type])


def encode_ecg(timestamp_ns: int, microvolts: Iterable[int]) -> bytes:
    payload = b"".join(v.to_bytes(3, "little", signed=True) for v in microvolts)
    return encode_header(Measurement.ECG, timestamp_ns, 0) + payload


def encode_acc(timestamp_ns: int, millig: Iterable[tuple[int, int, int]], size: int = 2) -> bytes:
    frame_type = {1: 0, 2: 1, 3: 2}[size]
    payload = b"".join(c.to_bytes(size, "little", signed=True) for s in millig for c in s)
    return encode_header(Measurement.ACC, timestamp_ns, frame_type) + payload


def encode_delta(samples: Sequence[Sequence[int]], resolution: int = 16, block: int = 255) -> bytes:
    """The delta format: reference sample, then blocks of the smallest bit width that fits."""
    size = (resolution + 7) // 8
    out = bytearray(b"".join(c.to_bytes(size, "little", signed=True) for c in samples[0]))
    deltas = [tuple(b - a for a, b in zip(p, q)) for p, q in zip(samples, samples[1:])]
    for start in range(0, len(deltas), block):
        chunk = deltas[start : start + block]
        width = max(max(_bits(d) for s in chunk for d in s), 1)
        packed = 0
        for k, d in enumerate(d for s in chunk for d in s):
            packed |= (d & ((1 << width) - 1)) << (k * width)
        length = (len(chunk) * len(samples[0]) * width + 7) // 8
        out += bytes([width, len(chunk)]) + packed.to_bytes(length, "little")
    return bytes(out)


def _bits(value: int) -> int:
    """Bits of the smallest two's complement field holding ``value``."""
    return (value if value >= 0 else ~value).bit_length() + 1


# --- the emulated strap's signals: the n-th sample of each is known --------------------------


def ecg_microvolts(n: int) -> int:
    return round(900 * math.sin(n / 7)) - 100


def acc_millig(n: int) -> tuple[int, int, int]:
    return (n % 50 - 25, -(n % 20), 1000 - n % 7)


@attrs.define
class _Running:
    measurement: Measurement
    rate: int
    frame_samples: int
    host_start: float  # loop time of the start
    device_start: int  # device ns of the first sample
    sent: int = 0  # samples sent in this run

    def due(self, drift: float) -> float:
        """Loop time at which the device clock reaches the next frame's last sample."""
        last = self.sent + self.frame_samples - 1
        return self.host_start + last / self.rate / (1 + drift)


class PolarPmd:
    """The PMD service of one emulated H10 (see the module docstring)."""

    def __init__(self, drift_ppm: float = 0.0, compressed_acc: bool = False) -> None:
        self.drift = drift_ppm * 1e-6
        self.compressed_acc = compressed_acc
        self.requests: list[bytes] = []  # every control-point write, oldest first
        self.starts: dict[Measurement, int] = {m: 0 for m in OFFERED}
        self._running: dict[Measurement, _Running] = {}
        self._index = {m: 0 for m in OFFERED}  # samples ever sent: signals go on across runs
        self._data: GattCharacteristic1 | None = None
        self._wake = asyncio.Event()

    def device_ns(self, host: float) -> int:
        return H10_DEFAULT_TIME_NS + round(host * (1 + self.drift) * NS)

    # the control point

    def on_write(self, char: GattCharacteristic1, data: bytes) -> None:
        self.requests.append(data)
        answer = self._answer(data)
        asyncio.get_running_loop().call_later(0.005, char.notify, answer)

    def _answer(self, data: bytes) -> bytes:
        if len(data) < 2:
            return encode_response(data[0] if data else 0, 0, status=4)
        op, code = data[0], data[1]
        if code not in (Measurement.ECG, Measurement.ACC):
            return encode_response(op, code, status=2)
        measurement = Measurement(code)
        if op == 1:
            return encode_response(op, code, parameters=encode_settings(OFFERED[measurement]))
        if op == 2:
            return encode_response(op, code, status=self._start(measurement, data[2:]))
        if op == 3:
            status = 0 if self._running.pop(measurement, None) else 6
            return encode_response(op, code, status=status)
        return encode_response(op, code, status=1)

    def _start(self, measurement: Measurement, request: bytes) -> int:
        if measurement in self._running:
            return 6  # ALREADY_IN_STATE
        chosen = {s: int(v[0]) for s, v in decode_settings(request).items()}
        offered = OFFERED[measurement]
        for setting, value in chosen.items():
            if value not in offered.get(setting, ()):
                return 8 if setting is Setting.SAMPLE_RATE else 5
        rate = chosen.get(Setting.SAMPLE_RATE)
        if rate is None:
            return 5
        frame = ECG_FRAME_SAMPLES if measurement is Measurement.ECG else max(rate // 5, 1)
        now = asyncio.get_running_loop().time()
        self._running[measurement] = _Running(measurement, rate, frame, now, self.device_ns(now))
        self.starts[measurement] += 1
        self._wake.set()
        return 0

    # the data characteristic

    async def play(self, char: GattCharacteristic1) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._wake.clear()
                if not self._running:
                    await self._wake.wait()
                    continue
                run = min(self._running.values(), key=lambda r: r.due(self.drift))
                delay = run.due(self.drift) - loop.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), delay)
                        continue  # a stream started or stopped: plan again
                    except asyncio.TimeoutError:
                        pass
                if self._running.get(run.measurement) is run:
                    char.notify(self._frame(run))
        finally:
            self._running.clear()  # the link is gone: an H10 stops its streams

    def _frame(self, run: _Running) -> bytes:
        first = self._index[run.measurement]
        n = run.frame_samples
        last_ns = run.device_start + round((run.sent + n - 1) * NS / run.rate)
        run.sent += n
        self._index[run.measurement] += n
        if run.measurement is Measurement.ECG:
            return encode_ecg(last_ns, (ecg_microvolts(i) for i in range(first, first + n)))
        samples = [acc_millig(i) for i in range(first, first + n)]
        if self.compressed_acc:
            return encode_header(Measurement.ACC, last_ns, 0x81) + encode_delta(samples)
        return encode_acc(last_ns, samples)


def polar_h10(
    pmd: PolarPmd, address: str = "A0:9E:1A:00:00:10", name: str = "Polar H10 A0000010"
) -> PeripheralPlan:
    """Heart Rate, Battery and PMD, as an H10 offers them."""
    features = bytes([0x0F, 1 << Measurement.ECG | 1 << Measurement.ACC, 0])
    return PeripheralPlan(
        address,
        name,
        {
            HEART_RATE_SERVICE: [CharacteristicPlan(uuid16(0x2A37), strap_value)],
            BATTERY_SERVICE: [_battery()],
            PMD_SERVICE: [
                CharacteristicPlan(
                    PMD_CONTROL_POINT, lambda n: features, ("read", "write", "indicate"), on_write=pmd.on_write
                ),
                CharacteristicPlan(PMD_DATA, lambda n: b"", ("notify",), player=pmd.play),
            ],
        },
    )
