"""The spec of a replay: ``PATH[?speed=X&loop=1&retime=1&user=UID]``.

``speed`` scales the original spacing (2 = twice as fast); ``retime=1`` stamps each sample with
the time it is played instead of the time it was recorded; ``loop=1`` starts over at the end and
implies ``retime`` (a second pass with the first pass's timestamps would send the same instants
twice); ``user`` plays only the lines of one recorded user (a consumer's recording holds all of a
developer's users).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import attrs

from ...domain.errors import SpecError
from ...domain.spec_query import number, query_options

MAX_SPEED = 1_000_000.0
PARAMETERS = "speed=X (0 < X <= 1e6, default 1), loop=0|1, retime=0|1, user=UID"
USAGE = f"expected replay:PATH[?PARAM=VALUE&...] with parameters {PARAMETERS}"


@attrs.frozen
class ReplaySpec:
    path: Path
    speed: float = 1.0
    loop: bool = False
    retime: bool = False
    user: str | None = None

    @property
    def device_id(self) -> str:
        """Stable for a file name, so that two runs of one recording are one device."""
        return f"replay-{self.path.name}"


def _speed(text: str) -> float:
    speed = number(text)
    if not 0 < speed <= MAX_SPEED:  # also false for nan
        raise SpecError(f"replay speed {text!r} is not a number in (0, {MAX_SPEED:g}]")
    return speed


def _flag(name: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        if text not in ("0", "1"):
            raise SpecError(f"replay {name} must be 0 or 1, got {text!r}")
        return text == "1"

    return parse


def _user(text: str) -> str:
    if not text:
        raise SpecError("replay user must not be empty")
    return text


_PARSERS: dict[str, Callable[[str], object]] = {
    "speed": _speed, "loop": _flag("loop"), "retime": _flag("retime"), "user": _user,
}


def parse_spec(spec: str) -> ReplaySpec:
    """Parse the part of a ``replay:`` spec after the prefix; SpecError says what is wrong."""
    path, _, query = spec.partition("?")
    if not path:
        raise SpecError(f"replay needs the path of a recording: {USAGE}")
    options = query_options(spec, query, _PARSERS, what="replay", usage=USAGE)
    if options.get("loop") and options.get("retime") is False:
        raise SpecError(
            "replay loop=1 needs retime: a second pass would repeat the recorded timestamps"
        )
    if options.get("loop"):
        options["retime"] = True
    return ReplaySpec(Path(path).expanduser(), **options)  # type: ignore[arg-type]
