"""How fast the stream logs append, by batch size (a plain script, not a test).

    python bench/storage_append.py [--seconds 1.0] [--synchronous NORMAL|FULL] [--dir DIR]
    python bench/storage_append.py --redis [URL] [--seconds 1.0]

SQLite: each row appends batches of one size to a fresh database file for about ``--seconds`` and
reports payloads per second and batches (= transactions = commits) per second. The broker's hub
batches whatever readings are waiting, so under load its batches grow and its rate moves down the
table.

Redis (``--redis``: a private redis-server, or the one at URL, under a prefix of its own): the
broker's side of its Redis path, as one node runs it: ``append_new`` of batches of one size (what
the hub's writer sends after its commit window) while ``follow`` runs beside it, told of every
append and finding nothing to read (the node dispatched its own appends). It reports this
process's CPU per payload (the Redis client path: encoding, the script call, parsing the answer,
the notification; one append per commit window, as the hub's writer sends them at 1,000 producers
× 1 Hz) and Redis's own CPU per payload (``INFO cpu``), the quantities of issue 14's
"Redis path ≤50 µs per reading".
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import trio

from wearstream.adapters.storage.redis import RedisStreamLog
from wearstream.adapters.storage.sqlite import SqliteStreamLog
from wearstream.domain.stream import Payload, SubmitKey
from wearstream.ports.storage import Submission
from wearstream.testing.redis_server import RedisServer

BATCH_SIZES = (1, 10, 100, 1000)
REDIS_BATCH_SIZES = (1, 10, 30, 100)
DEVICE = {"name": "Polar H10 A1B2", "id": "a1b2"}


def make_batch(first_seq: int, size: int) -> list[Payload]:
    return [
        Payload(
            "dev_bench",
            seq,
            "user-1",
            "2025-01-01T00:00:00.000Z",
            {"val": 60 + seq % 80, "type": "HR", "device": DEVICE},
            False,
            SubmitKey("outbox-1", seq),
        )
        for seq in range(first_seq, first_seq + size)
    ]


def make_submissions(developer_id: str, first: int, size: int) -> list[Submission]:
    """A batch as 1,000 producers at 1 Hz send it: each reading from another user and outbox."""
    return [
        Submission(
            developer_id, f"user-{n % 1000}", "2025-01-01T00:00:00.000Z",
            {"val": 60 + n % 80, "type": "HR", "device": DEVICE}, SubmitKey(f"outbox-{n % 1000}", n),
        )
        for n in range(first, first + size)
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


async def sqlite_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"SQLite stream log, synchronous={args.synchronous}, ~{args.seconds:g} s per row, {tmp}")
        print(f"{'batch':>6} {'payloads/s':>12} {'batches/s':>10} {'us/payload':>11}")
        for size in args.batches or BATCH_SIZES:
            payloads, batches, elapsed = await measure(
                Path(tmp) / f"batch{size}.db", size, args.seconds, args.synchronous
            )
            rate = payloads / elapsed
            print(f"{size:>6} {rate:>12,.0f} {batches / elapsed:>10,.0f} {1e6 / rate:>11.1f}")


async def redis_cpu(log: RedisStreamLog) -> float:
    """Redis's own CPU seconds so far (user + system), from INFO."""
    info = (await log.redis.execute("info", "INFO", "cpu")).decode()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


async def measure_redis(
    log: RedisStreamLog, size: int, seconds: float, window: float
) -> tuple[int, float, float, float]:
    """append_new batches of ``size``, one per ``window`` (the hub's commit window) for about
    ``seconds`` while ``follow`` runs as on one node; returns (payloads, elapsed, this process's
    CPU s, Redis's CPU s)."""
    developer_id = f"dev_{uuid.uuid4().hex[:8]}"
    dispatched = {developer_id: 0}

    def deliver(payloads: list[Payload]) -> None:
        dispatched[developer_id] = payloads[-1].seq  # only other nodes' appends reach here

    async with trio.open_nursery() as nursery:
        nursery.start_soon(log.follow, lambda: dispatched, deliver)
        await trio.sleep(0.2)  # subscribed, first catch-up done
        n = 0
        redis_before, cpu_before, start = await redis_cpu(log), time.process_time(), time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            stored = await log.append_new(make_submissions(developer_id, n, size), dict(dispatched))
            dispatched[developer_id] = stored[-1].seq if stored[-1] else dispatched[developer_id]
            n += size
            await trio.sleep(window)
        await trio.sleep(0.05)  # the last notifications
        cpu, redis = time.process_time() - cpu_before, await redis_cpu(log) - redis_before
        nursery.cancel_scope.cancel()
    return n, elapsed, cpu, redis


async def redis_main(args: argparse.Namespace) -> None:
    server = None
    url = args.redis
    if url == "private":
        server = RedisServer.create(appendonly=False).start()
        url = server.url
    try:
        log = await RedisStreamLog.open(url, prefix=f"bench-{uuid.uuid4().hex[:8]}:")
        try:
            window = log.commit_window if args.window is None else args.window
            print(f"Redis stream log at {url}, append_new + follow, one batch per {1000 * window:g} ms, "
                  f"~{args.seconds:g} s per row")
            print(f"{'batch':>6} {'payloads/s':>12} {'client us/payload':>18} {'Redis us/payload':>17}")
            for size in args.batches or REDIS_BATCH_SIZES:
                payloads, elapsed, cpu, redis = await measure_redis(log, size, args.seconds, window)
                print(f"{size:>6} {payloads / elapsed:>12,.0f} {1e6 * cpu / payloads:>18.1f} "
                      f"{1e6 * redis / payloads:>17.1f}")
        finally:
            await log.aclose()
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per batch size")
    parser.add_argument("--synchronous", choices=("NORMAL", "FULL"), default="NORMAL")
    parser.add_argument("--dir", help="where the temporary database files go (default: the system temp dir)")
    parser.add_argument(
        "--redis", nargs="?", const="private", metavar="URL",
        help="measure the Redis log instead: a private redis-server, or the Redis at URL",
    )
    parser.add_argument("--batches", type=lambda text: [int(n) for n in text.split(",")],
                        help="batch sizes, comma-separated (default: SQLite 1,10,100,1000; Redis 1,10,30,100)")
    parser.add_argument(
        "--window", type=float, metavar="SECONDS",
        help="Redis: the pause between appends (default: the log's commit window, 0.01)",
    )
    arguments = parser.parse_args()
    trio.run(redis_main if arguments.redis else sqlite_main, arguments)
