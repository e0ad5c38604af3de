"""The query string of a device spec (``KIND?key=value&key=value``), read the same way for every
transport: each key known, given once, with an ``=``, and its value checked by that key's own
parser, in the order written, so the first thing wrong is the one reported.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, TypeVar

from .errors import SpecError

T = TypeVar("T")


def query_options(
    spec: str, query: str, parsers: Mapping[str, Callable[[str], T]], *, what: str, usage: str
) -> dict[str, T]:
    """The parsed value of each ``key=value`` in ``query`` (``""``: none), by key.

    ``spec`` is quoted and ``what`` names the transport in errors: "bad sim parameter 'x' in
    'hr-strap?x': ``usage``", "sim parameter 'seed' given twice in …".
    """
    options: dict[str, T] = {}
    for pair in query.split("&") if query else ():
        key, equals, value = pair.partition("=")
        if not equals or key not in parsers:
            raise SpecError(f"bad {what} parameter {pair!r} in {spec!r}: {usage}")
        if key in options:
            raise SpecError(f"{what} parameter {key!r} given twice in {spec!r}")
        options[key] = parsers[key](value)
    return options


def number(text: str) -> float:
    """``text`` as a float, or NaN when it is not a number: NaN fails every range check, so a
    caller checks the range once and reports both kinds of bad value with one message."""
    try:
        return float(text)
    except ValueError:
        return math.nan
