"""The garbage collector of a long-running broker: out of the way of the per-reading path.

A broker allocates a few container objects per reading (frames, dicts, the reading on its way)
that reference counting frees at once, but each allocation still counts towards a generation-0
collection, and every tenth of those ages into one that walks all the long-lived objects (the
modules, the app, every connection's task and socket state). Measured at 1,000 producers × 1 Hz,
that was a tenth of the broker's CPU (docs/benchmarks.md, "Producer path").

After start-up, ``tune()`` freezes what exists (the collector never walks it again) and raises
the thresholds: the young generation is collected every ``YOUNG`` allocations, not every 700,
and the older ones ten times less often than by default. Cycles still get collected; garbage
that only a cycle holds lives a little longer (bounded by the thresholds, a few MB).
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations (net of frees) between generation-0 collections (Python: 700)
MIDDLE = 20  # generation-0 collections per generation-1 collection (Python: 10)
OLD = 100  # generation-1 collections per full collection (Python: 10)


def tune() -> None:
    """Call once start-up is done: collect, freeze what is left, raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
