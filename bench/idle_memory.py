"""What one held, idle producer connection costs the broker, and where: a diagnosis, not a benchmark.

    python -m bench.idle_memory [--connections 2000] [--warm 200] [--frames 8] [--top 25]

Runs the real broker (``serve_broker``, memory stores) in this process with ``tracemalloc`` on,
holds ``--warm`` idle producers (heartbeating every 10 s, as scenario e) from a load-generator
process, takes a first look, then ``--connections`` more from another, and a second look. The
difference, divided by the connections added, is one connection's cost, without what the first
connection of a kind pays once (imports, caches, pools). Printed per connection: RSS, the bytes
tracemalloc traced (so RSS - traced = allocator overhead and fragmentation), tasks and their
coroutine frames, objects the garbage collector tracks by type, and the allocation sites that
grew most (grouped by the innermost ``--frames`` frames, inside wearstream, trio and the stdlib).

tracemalloc slows the broker down and costs memory of its own (not counted in "traced"), so RSS
here is higher than in scenario e; the breakdown is the point.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import sys
import time
import tracemalloc
from typing import Any

import trio

from wearstream.entrypoints.broker import BrokerSettings, serve_broker
from wearstream.entrypoints.state import create_developer

from . import procstat
from .loadgen import WorkerConfig
from .relay import raise_file_limit
from .run import Workers
from .scenarios import IDLE_HEARTBEAT_MS

SETTLE = 2.0  # s after the last connection, for handshake leftovers to go
TRACE_DEPTH = 14  # deep enough to reach a line of ours under trio's socket calls


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000, help="connections measured (2000)")
    parser.add_argument("--warm", type=int, default=200, help="connections held before the first look (200)")
    parser.add_argument("--frames", type=int, default=8, help="traceback frames per allocation site (8)")
    parser.add_argument("--top", type=int, default=25, help="allocation sites shown (25)")
    parser.add_argument(
        "--no-trace", action="store_true",
        help="without tracemalloc (its own memory inflates RSS): RSS, tasks and GC objects only",
    )
    return parser.parse_args(argv)


class Look:
    """One look at the broker's memory."""

    def __init__(self, frames: int) -> None:
        gc.collect()
        self.rss_kib = procstat.rss_kib(os.getpid())
        self.snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
        ) if tracemalloc.is_tracing() else None
        self.traced = sum(s.size for s in self.snapshot.statistics("filename")) if self.snapshot else 0
        self.types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        self.tasks, self.frames, self.frame_bytes = _tasks()
        self.frames_kept = frames


def _tasks() -> tuple[int, int, int]:
    """Tasks alive, their coroutine frames (each task's await chain), and those frames' bytes."""
    tasks = frames = size = 0
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        tasks += 1
        coro: Any = task.coro
        while coro is not None and getattr(coro, "cr_frame", None) is not None:
            frames += 1
            size += sys.getsizeof(coro.cr_frame)
            coro = coro.cr_await
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return tasks, frames, size


def _idle_workers(ws_url: str, http_url: str, developer: tuple[str, str], first: int, count: int) -> Workers:
    config = WorkerConfig(
        "wearstream", ws_url=ws_url, http_url=http_url, developers=(developer,),
        producers=tuple((first + i, 0) for i in range(count)), idle=True,
    )
    return Workers([config])


def _finish(workers: Workers) -> None:
    """Take the load generator through the rest of its lock step and let it go."""
    now = time.time()
    workers.send({"start": now, "window": (now, now), "stop": now})
    workers.gather(60)
    workers.send({"expect": {}, "drain": 0})
    workers.gather(60)
    workers.close()


def report(before: Look, after: Look, count: int, top: int) -> str:
    per = 1024 / count
    lines = [
        f"{count} idle producer connections added (after {before.tasks} tasks were running)",
        f"RSS per connection          {(after.rss_kib - before.rss_kib) * per / 1024:8.1f} KiB",
        f"traced per connection       {(after.traced - before.traced) / count / 1024:8.1f} KiB"
        " (Python allocations tracemalloc sees)",
        f"tasks per connection        {(after.tasks - before.tasks) / count:8.2f}",
        f"coroutine frames per conn.  {(after.frames - before.frames) / count:8.2f}"
        f" ({(after.frame_bytes - before.frame_bytes) / count:.0f} B of frame objects)",
        "",
        "objects the GC tracks, per connection (types adding >= 0.5):",
    ]
    grown = {t: (after.types[t] - before.types.get(t, 0)) / count for t in after.types}
    for name, n in sorted(grown.items(), key=lambda kv: -kv[1]):
        if n >= 0.5:
            lines.append(f"  {n:6.2f}  {name}")
    if after.snapshot is None or before.snapshot is None:
        return "\n".join(lines)
    diff = after.snapshot.compare_to(before.snapshot, "traceback")
    lines += ["", "bytes per connection by the innermost line of ours that allocated (directly or in a library):"]
    ours: collections.Counter[str] = collections.Counter()
    for stat in diff:
        ours[_our_line(stat.traceback)] += stat.size_diff
    for where, size in ours.most_common(top):
        if size > 0:
            lines.append(f"  {size / count:8.0f} B  {where}")
    lines += ["", f"allocation sites that grew, bytes per connection (innermost {after.frames_kept} frames):"]
    for stat in [s for s in diff if s.size_diff > 0][:top]:
        lines.append(f"  {stat.size_diff / count:8.0f} B  {stat.count_diff / count:6.2f} blocks")
        for frame in list(stat.traceback)[-after.frames_kept:][::-1]:
            lines.append(f"             {_short(frame.filename)}:{frame.lineno}")
    return "\n".join(lines)


def _our_line(traceback: tracemalloc.Traceback) -> str:
    """The innermost frame in wearstream's own code (not this script), else the innermost."""
    frames = list(traceback)
    for frame in reversed(frames):  # tracemalloc keeps the most recent frame last
        name = frame.filename
        if "site-packages" not in name and "/lib/python3" not in name and not name.startswith("<") \
                and "idle_memory" not in name:
            return f"{_short(name)}:{frame.lineno}"
    return f"{_short(frames[-1].filename)}:{frames[-1].lineno} (no frame of ours)" if frames else "?"


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/wearstream/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def main(args: argparse.Namespace) -> None:
    settings = BrokerSettings(host="127.0.0.1", port=0, heartbeat_interval=IDLE_HEARTBEAT_MS)
    async with trio.open_nursery() as nursery:
        running = await nursery.start(serve_broker, settings)
        if not args.no_trace:  # from here: the broker's start-up (imports, compiled code) is not
            tracemalloc.start(max(args.frames, TRACE_DEPTH))  # traced, which made every look slow
        made = await create_developer(running.stores.developers, "idle")
        developer = (made.dev_id, made.api_key)
        urls = (running.ws_url, running.api_url)
        warm = await trio.to_thread.run_sync(_connect, urls, developer, 0, args.warm)
        await trio.sleep(SETTLE)
        before = Look(args.frames)
        added = await trio.to_thread.run_sync(_connect, urls, developer, args.warm, args.connections)
        await trio.sleep(SETTLE)
        after = Look(args.frames)
        held = len(running.broker.connections)
        print(report(before, after, args.connections, args.top))
        print(f"\nconnections open in the broker at the second look: {held} (expected {args.warm + args.connections})")
        for workers in (warm, added):
            await trio.to_thread.run_sync(_finish, workers)
        await running.broker.shutdown()
        nursery.cancel_scope.cancel()


def _connect(urls: tuple[str, str], developer: tuple[str, str], first: int, count: int) -> Workers:
    workers = _idle_workers(*urls, developer, first, count)
    (connected,) = workers.gather(600)
    if connected["failed"]:
        print(f"{connected['failed']} connections failed: {connected['errors'][:2]}", file=sys.stderr)
    return workers


if __name__ == "__main__":
    arguments = parse_args(None)
    raise_file_limit()
    trio.run(main, arguments)
