"""Input checks every stream log adapter applies the same way, so that they fail alike.

A log that quietly stored a seq twice or out of order would break replay for every consumer
later, far from the cause; so a bad batch is refused whole, with the first offending payload named.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ...domain.stream import Payload


def check_appendable(payloads: Sequence[Payload], last_seq: Callable[[str], int]) -> None:
    """Raise ValueError unless every developer's seqs in the batch rise above what is stored.

    ``last_seq`` gives the highest seq already stored for a developer (0 when none).
    """
    seen: dict[str, int] = {}
    for index, payload in enumerate(payloads):
        dev = payload.developer_id
        previous = seen[dev] if dev in seen else last_seq(dev)
        if not isinstance(payload.seq, int) or isinstance(payload.seq, bool) or payload.seq < 1:
            raise ValueError(
                f"payload {index} of the batch (developer {dev}): seq must be a positive integer, "
                f"got {payload.seq!r}"
            )
        if payload.seq <= previous:
            raise ValueError(
                f"payload {index} of the batch (developer {dev}): seq {payload.seq} is not after "
                f"{previous}; seqs must rise strictly per developer"
            )
        seen[dev] = payload.seq


def check_limit(limit: int) -> None:
    """A negative limit is a caller's bug (and would mean 'no limit' to SQLite): refuse it."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(f"read_range limit must be a non-negative integer, got {limit!r}")
