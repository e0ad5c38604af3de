"""How fast the SQLite stream log appends, by batch size (a plain script, not a test).

    python bench/storage_append.py [--seconds 1.0] [--synchronous NORMAL|FULL] [--dir DIR]

Each row appends batches of one size to a fresh database file for about ``--seconds`` and reports
payloads per second and batches (= transactions = commits) per second. The broker's hub batches
whatever readings are waiting, so under load its batches grow and its rate moves down the table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import trio

from wearstream.adapters.storage.sqlite import SqliteStreamLog
from wearstream.domain.stream import Payload, SubmitKey

BATCH_SIZES = (1, 10, 100, 1000)


def make_batch(first_seq: int, size: int) -> list[Payload]:
    return [
        Payload(
            "dev_bench",
            seq,
            "user-1",
            "2025-01-01T00:00:00.000Z",
            {"val": 60 + seq % 80, "type": "HR", "device": {"name": "Polar H10 A1B2", "id": "a1b2"}},
            False,
            SubmitKey("outbox-1", seq),
        )
        for seq in range(first_seq, first_seq + size)
    ]


async def measure(path: Path, size: int, seconds: float, synchronous: str) -> tuple[int, int, float]:
    """Append batches of ``size`` for about ``seconds``; returns (payloads, batches, elapsed)."""
    log = await SqliteStreamLog.open(path, synchronous=synchronous)
    try:
        seq, batches = 1, 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            batch = make_batch(seq, size)  # built inside the timing, as the hub would build it
            await log.append(batch)
            seq += size
            batches += 1
        return seq - 1, batches, elapsed
    finally:
        await log.aclose()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"SQLite stream log, synchronous={args.synchronous}, ~{args.seconds:g} s per row, {tmp}")
        print(f"{'batch':>6} {'payloads/s':>12} {'batches/s':>10} {'us/payload':>11}")
        for size in BATCH_SIZES:
            payloads, batches, elapsed = await measure(
                Path(tmp) / f"batch{size}.db", size, args.seconds, args.synchronous
            )
            rate = payloads / elapsed
            print(f"{size:>6} {rate:>12,.0f} {batches / elapsed:>10,.0f} {1e6 / rate:>11.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per batch size")
    parser.add_argument("--synchronous", choices=("NORMAL", "FULL"), default="NORMAL")
    parser.add_argument("--dir", help="where the temporary database files go (default: the system temp dir)")
    trio.run(main, parser.parse_args())
