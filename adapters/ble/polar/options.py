"""Which PMD streams a ``ble:`` spec asks for, and the settings to start them with.

``ble:ADDRESS?ecg=1&acc=50&acc_range=8`` (also after ``name=PATTERN``): ``ecg=1`` streams ECG at
the device's rate (130 Hz on the H10), ``acc=HZ`` streams acceleration at that sample rate
(25, 50, 100 or 200 on the H10), ``acc_range=G`` picks the range (2, 4 or 8 g; default the
largest). Without options nothing changes: a Polar strap streams heart rate and RR only.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import parse_qsl

import attrs

from ....domain.errors import SpecError
from .control import Setting, Settings
from .service import Measurement


class PmdSetupError(Exception):
    """A stream could not be started (not offered, refused, no answer): reported, not fatal."""


@attrs.frozen
class PmdOptions:
    ecg: bool = False
    acc_hz: int | None = None
    acc_range_g: int | None = None

    @property
    def requested(self) -> bool:
        return self.ecg or self.acc_hz is not None

    def requests(self) -> list[tuple[Measurement, dict[Setting, int]]]:
        """The streams to start, each with the settings the user fixed."""
        out: list[tuple[Measurement, dict[Setting, int]]] = []
        if self.ecg:
            out.append((Measurement.ECG, {}))
        if self.acc_hz is not None:
            wanted = {Setting.SAMPLE_RATE: self.acc_hz}
            if self.acc_range_g is not None:
                wanted[Setting.RANGE] = self.acc_range_g
            out.append((Measurement.ACC, wanted))
        return out


def _positive(key: str, text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise SpecError(f"ble: option {key}={text!r} needs a positive whole number")
    return int(text)


def split_spec(spec: str) -> tuple[str, PmdOptions]:
    """``ADDRESS?ecg=1&acc=50`` -> (``ADDRESS``, the options); SpecError naming a bad option."""
    base, _, query = spec.partition("?")
    values: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in ("ecg", "acc", "acc_range"):
            raise SpecError(f"ble: unknown option {key!r} (known: ecg, acc, acc_range)")
        values[key] = value
    ecg = values.get("ecg", "0")
    if ecg not in ("0", "1"):
        raise SpecError(f"ble: option ecg={ecg!r} must be 0 or 1")
    acc = _positive("acc", values["acc"]) if "acc" in values else None
    acc_range = _positive("acc_range", values["acc_range"]) if "acc_range" in values else None
    if acc_range is not None and acc is None:
        raise SpecError("ble: acc_range needs acc=HZ too")
    return base, PmdOptions(ecg == "1", acc, acc_range)


def choose_settings(
    measurement: Measurement, available: Settings, wanted: Mapping[Setting, int]
) -> dict[Setting, int]:
    """One value per offered setting: the wanted one, else the largest offered.

    The largest is the best choice for every setting a start request carries: the highest
    resolution, the widest range (no clipping), all channels.
    """
    chosen: dict[Setting, int] = {}
    for setting, value in wanted.items():
        offered = available.get(setting, ())
        if value not in offered:
            listed = ", ".join(str(int(v)) for v in sorted(offered)) or "nothing"
            raise PmdSetupError(
                f"{measurement.name} {setting.name.lower()} {value} is not offered (offers {listed})"
            )
        chosen[setting] = value
    for setting, offered in available.items():
        if setting not in chosen and setting not in (Setting.FACTOR, Setting.SECURITY) and offered:
            chosen[setting] = int(max(offered))
    if Setting.SAMPLE_RATE not in chosen:
        raise PmdSetupError(f"{measurement.name}: the device offers no sample rate")
    return chosen
