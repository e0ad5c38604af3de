"""Relay benchmark: wearstream and Mosquitto side by side, N producers x R readings/s -> M consumers.

    python -m bench.relay [--scenarios a,b,c,d,e,sweep,scaleout,abuse] [--duration 10] [--warmup 2]
                          [--systems wearstream,wearstream-sqlite,mosquitto-qos0,mosquitto-qos1]
                          [--sqlite-scenarios c] [--producers N] [--rate R] [--idle-connections N]
                          [--nodes 1,2,3] [--abusers 5] [--out bench/results]

Run it from the repository root. Each scenario runs on each system in turn, each time on a fresh
broker process; load comes from separate worker processes (trio, one task per client). Writes
relay-<time>.md, .json and .png (latency against offered load) to --out and prints the table.
The scaleout scenario (bench/scaleout.py) runs wearstream nodes on one Redis, once per --nodes count.
The abuse scenario is b's honest load while --abusers clients of each hostile behaviour of
bench/abuse.py attack (wearstream only): run it as ``--scenarios b,abuse`` to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import report, scaleout, targets
from .run import SYSTEMS, Timing, run
from .scenarios import select

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios", default="a,b,c,d,e,sweep", help="comma-separated: a-e, sweep, scaleout, abuse"
    )
    parser.add_argument("--nodes", default="1,2,3", help="node counts of the scaleout scenario")
    parser.add_argument("--systems", default="wearstream,wearstream-sqlite,mosquitto-qos0,mosquitto-qos1")
    parser.add_argument("--sqlite-scenarios", default="c", help="scenarios also run with --data-dir (SQLite)")
    parser.add_argument("--duration", type=float, default=10.0, help="measurement window per run, s")
    parser.add_argument("--warmup", type=float, default=2.0, help="load before the window opens, s")
    parser.add_argument("--producers", type=int, help="override the producer count (flow scenarios)")
    parser.add_argument("--rate", type=float, help="override readings/s per producer (0 = maximum)")
    parser.add_argument("--idle-connections", type=int, help="producers to hold in scenario e (10,000)")
    parser.add_argument(
        "--abusers", type=int, help="hostile clients per behaviour in the abuse scenario (5; bench/abuse.py)"
    )
    parser.add_argument(
        "--abuse-behaviours", help="only these behaviours in the abuse scenario (comma-separated; default all)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="py-spy the wearstream broker over each window (collapsed stacks, DIR/<scenario>-<system>.txt)",
    )
    return parser.parse_args(argv)


def raise_file_limit() -> int:
    """Every connection is a file descriptor, in the broker and in the load generator alike."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def plan(args: argparse.Namespace, mosquitto: str | None) -> list[tuple[Any, Any]]:
    names, _ = scaleout.wanted([s for s in args.scenarios.split(",") if s])
    scenarios = select(
        names,
        producers=args.producers, rate=args.rate, idle=args.idle_connections, abusers=args.abusers,
        behaviours=tuple(args.abuse_behaviours.split(",")) if args.abuse_behaviours else None,
    )
    wanted = [s for s in args.systems.split(",") if s]
    unknown = set(wanted) - SYSTEMS.keys()
    if unknown:
        raise SystemExit(f"unknown systems {sorted(unknown)}: choose from {sorted(SYSTEMS)}")
    sqlite_for = set(args.sqlite_scenarios.split(","))
    runs = []
    for scenario in scenarios:
        for name in wanted:
            system = SYSTEMS[name]
            if system.kind == "mqtt" and mosquitto is None:
                continue
            if system.sqlite and scenario.name not in sqlite_for:
                continue
            if scenario.idle and system.qos == 1:
                continue  # nothing is published: QoS changes nothing
            if scenario.abusers and system.kind == "mqtt":
                continue  # the hostile clients speak wearstream's protocol
            runs.append((scenario, system))
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    files = raise_file_limit()
    mosquitto = targets.mosquitto_binary()
    runs = plan(args, mosquitto)
    started = datetime.now(timezone.utc)
    header = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
        "mosquitto": targets.mosquitto_version(mosquitto) if mosquitto else "Mosquitto not found: skipped",
        "duration": args.duration,
        "warmup": args.warmup,
        "open_files_limit": files,
        "load_average_1m": os.getloadavg()[0],
        "argv": sys.argv[1:] if argv is None else argv,
    }
    timing = Timing(args.warmup, args.duration, args.profile)
    results = []
    for scenario, system in runs:
        print(f"[{time.strftime('%H:%M:%S')}] {scenario.name} on {system.name}: {scenario.title}", flush=True)
        try:
            results.append(run(scenario, system, timing, mosquitto))
        except Exception as error:  # a failed run is reported in the table, the others still run
            traceback.print_exc()
            results.append(_failed(scenario, system, error))
    results += _scaleout(args, timing)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"relay-{started.strftime('%Y%m%d-%H%M%S')}"
    table = report.markdown(header, results)
    Path(f"{stem}.md").write_text(table)
    report.write_json(Path(f"{stem}.json"), header, results)
    plotted = report.plot(Path(f"{stem}.png"), results)
    print(table)
    print(f"wrote {stem}.md, {stem}.json" + (f", {stem}.png" if plotted else " (no plot)"))
    return 1 if any(r.get("failed") for r in results) else 0


def _scaleout(args: argparse.Namespace, timing: Timing) -> list[dict[str, Any]]:
    """The scaleout scenario, once per node count, when asked for."""
    if not scaleout.wanted(args.scenarios.split(","))[1]:
        return []
    nodes = [int(n) for n in args.nodes.split(",") if n]
    results = []
    for count, scenario in scaleout.scenarios(nodes, producers=args.producers, rate=args.rate):
        print(f"[{time.strftime('%H:%M:%S')}] {scenario.name}: {scenario.title}", flush=True)
        try:
            results.append(scaleout.run(count, scenario, timing))
        except Exception as error:  # reported in the table, like any failed run
            traceback.print_exc()
            results.append(_failed(scenario, scaleout.SYSTEM, error))
    return results


def _failed(scenario: Any, system: Any, error: Exception) -> dict[str, Any]:
    return {
        "scenario": scenario.name, "title": scenario.title, "system": system.name,
        "label": system.label, "idle": scenario.idle, "offered_per_s": scenario.offered,
        "failed": f"{type(error).__name__}: {error}"[:500],
    }


if __name__ == "__main__":
    sys.exit(main())
