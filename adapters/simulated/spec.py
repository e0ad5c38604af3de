"""The spec of a simulated device: ``KIND[?rate=HZ&seed=N]``, e.g. ``hr-strap?rate=50&seed=3``."""

from __future__ import annotations

from typing import Callable

import attrs

from ...domain.errors import SpecError
from ...domain.spec_query import number, query_options
from .models import KINDS

MAX_RATE_HZ = 1000.0
PARAMETERS = "rate=HZ (0 < HZ <= 1000, default 1), seed=N (an integer, default 0)"


@attrs.frozen
class SimSpec:
    kind: str
    rate: float = 1.0
    seed: int = 0

    @property
    def device_id(self) -> str:
        """Stable for a kind and seed, so that two runs of one spec are one device."""
        return f"sim-{self.kind}-{self.seed}"


def _usage() -> str:
    kinds = ", ".join(KINDS)
    return f"expected KIND[?PARAM=VALUE&...] with KIND one of {kinds}; parameters: {PARAMETERS}"


def _rate(text: str) -> float:
    rate = number(text)
    if not 0 < rate <= MAX_RATE_HZ:  # also false for nan
        raise SpecError(f"sim rate {text!r} is not a number of Hz in (0, {MAX_RATE_HZ:g}]")
    return rate


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"sim seed {text!r} is not an integer") from None


_CONVERTERS: dict[str, Callable[[str], float | int]] = {"rate": _rate, "seed": _seed}


def parse_spec(spec: str) -> SimSpec:
    """Parse the part of a ``sim:`` spec after the prefix; SpecError says what is wrong and why."""
    kind, _, query = spec.partition("?")
    if kind not in KINDS:
        raise SpecError(f"unknown simulated device {kind!r}: {_usage()}")
    options = query_options(spec, query, _CONVERTERS, what="sim", usage=_usage())
    return SimSpec(kind, **options)  # type: ignore[arg-type]
