"""Consumer-side port: where a consumer stores the payloads it receives.

Sinks are found by their spec prefix (``jsonl`` in ``jsonl:/var/lib/hr.jsonl``) through the
``wearstream.sinks`` entry-point group; each entry point names a ``SinkFactory``. Every sink passes
the contract suite in ``wearstream.testing.contracts.sinks``.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import attrs

from ..domain.stream import Payload


@attrs.frozen
class SinkOptions:
    """Settings a sink may need beyond its target; the CLI fills them from its options."""

    format: str = "text"  # stdout: "text" (human-readable) or "jsonl"
    webhook_secret: str | None = None  # webhook: HMAC-SHA256 key for the signature header
    cursor_dir: str | None = None  # where sinks without a place of their own keep their cursor


class UnwritablePayload(ValueError):
    """One payload this sink cannot write (its ``d`` cannot be encoded for the medium), raised
    before anything of the batch is written. The consumer then skips that payload for this sink
    (one log line naming the seq and the reason, counted) and writes the rest: one payload must
    never stop a sink for good. Trouble of the medium itself (disk full, webhook down) is not this.
    """

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"payload seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class SampleSink(Protocol):
    """Stores payloads and remembers how far it got (its cursor: the last seq it committed).

    The cursor is what makes a restart lossless: the consumer resumes from the lowest cursor of its
    sinks, and each sink skips what it already has, so every payload is stored exactly once.
    """

    async def open(self) -> int:
        """Prepare to write; return the committed cursor (0 when the sink has stored nothing)."""
        ...

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        """Store ``payloads`` (strictly ascending seqs) and commit ``cursor`` (>= the last seq
        of the batch: payloads a filter dropped still advance it), atomically with the data
        where the medium allows. Durable on return.

        Payloads at or below the committed cursor are skipped (a replay may resend them), and a
        lower ``cursor`` never moves it back. A batch with seqs not rising or a cursor below its
        last seq is refused whole with ValueError; a payload the sink cannot encode, with
        UnwritablePayload before anything is written."""
        ...

    async def aclose(self) -> None: ...


class SinkFactory(Protocol):
    """What a ``wearstream.sinks`` entry point names: builds a sink from the spec's target."""

    def __call__(self, target: str, options: SinkOptions) -> SampleSink: ...
