"""Relay benchmark: wearstream and Mosquitto side by side, N producers x R readings/s -> M consumers.

    python -m bench.relay [--scenarios a,b,c,d,e,f,g,sweep,scaleout,abuse] [--duration 10] [--warmup 2]
                          [--systems wearstream,wearstream@REV,wearstream-sqlite,mosquitto-qos0,…]
                          [--repeat N]
                          [--sqlite-scenarios c] [--producers N] [--rate R] [--idle-connections N]
                          [--nodes 1,2,3] [--abusers 5] [--out bench/results]

Run it from the repository root. Each scenario runs on each system in turn, each time on a fresh
broker process; load comes from separate worker processes (trio, one task per client). Writes
relay-<time>.md, .json and .png (latency against offered load) to --out and prints the table.
A system named ``wearstream@REV`` (or ``wearstream-sqlite@REV``) is wearstream at that git revision of
this repository, exported for the run (bench/revisions.py): before and after in the same run.
--repeat N runs each scenario N times, the systems in turn (ABBA order), so drift is shared.
The scaleout scenario (bench/scaleout.py) runs wearstream nodes on one Redis, once per --nodes count.
The abuse scenario is b's honest load while --abusers clients of each hostile behaviour of
bench/abuse.py attack (wearstream only): run it as ``--scenarios b,abuse`` to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import instructions, interpreter, report, scaleout, targets
from . import revisions
from .run import SYSTEMS, System, Timing, at_revision, run
from .scenarios import select

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios", default="a,b,c,d,e,sweep", help="comma-separated: a-g, sweep, scaleout, abuse (a,b,c,d,e,sweep)"
    )
    parser.add_argument("--nodes", default="1,2,3", help="node counts of the scaleout scenario")
    parser.add_argument(
        "--systems", default="wearstream,wearstream-sqlite,mosquitto-qos0,mosquitto-qos1",
        help="comma-separated systems (default: %(default)s); wearstream@REV or wearstream-sqlite@REV "
        "runs that git revision's broker beside this checkout's",
    )
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="runs of each scenario per system, alternating systems in ABBA order (1)",
    )
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
    parser.add_argument(
        "--callgrind", type=Path, metavar="DIR",
        help="run each wearstream broker under callgrind and report its instructions per sample over "
        "the window (repeatable where CPU time is not; ~50x slower: offer ~200 readings/s)",
    )
    parser.add_argument(
        "--broker-python", metavar="PYTHON",
        help="run the wearstream brokers under this interpreter (a venv's python with wearstream "
        "installed) instead of this one: CPython builds differ by a quarter in speed (see "
        "docs/benchmarks.md, 'The interpreter')",
    )
    args = parser.parse_args(argv)
    if args.callgrind is not None and args.profile is not None:
        parser.error("--callgrind and --profile each watch the broker: choose one")
    if args.callgrind is not None and scaleout.wanted(args.scenarios.split(","))[1]:
        parser.error("--callgrind counts one broker's instructions: not with the scaleout scenario")
    if args.broker_python is not None and scaleout.wanted(args.scenarios.split(","))[1]:
        parser.error("--broker-python runs one broker per system: not with the scaleout scenario")
    if args.broker_python is not None and interpreter.version(args.broker_python) is None:
        parser.error(f"--broker-python {args.broker_python}: not a Python that imports wearstream")
    if args.callgrind is not None and not instructions.available():
        parser.error("--callgrind needs valgrind (Debian: apt-get install valgrind)")
    return args


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


def systems_named(names: list[str], exported: dict[str, revisions.Revision]) -> list[System]:
    """The systems of --systems, a ``@REV`` suffix resolved to its exported revision."""
    chosen = []
    for name in names:
        base, revision = revisions.split(name)
        if base not in SYSTEMS:
            raise SystemExit(f"unknown system {name!r}: choose from {sorted(SYSTEMS)} (wearstream ones may take @REV)")
        chosen.append(SYSTEMS[base] if revision is None else at_revision(SYSTEMS[base], exported[revision]))
    return chosen


def plan(
    args: argparse.Namespace, mosquitto: str | None, systems: list[System]
) -> list[tuple[Any, System, int]]:
    """(scenario, system, run number) in the order they run: per scenario, ``--repeat`` rounds of
    every system, every other round reversed (ABBA), so a drift of the machine's load is shared."""
    names, _ = scaleout.wanted([s for s in args.scenarios.split(",") if s])
    scenarios = select(
        names,
        producers=args.producers, rate=args.rate, idle=args.idle_connections, abusers=args.abusers,
        behaviours=tuple(args.abuse_behaviours.split(",")) if args.abuse_behaviours else None,
    )
    if args.repeat < 1:
        raise SystemExit("--repeat must be 1 or more")
    sqlite_for = set(args.sqlite_scenarios.split(","))
    runs = []
    for scenario in scenarios:
        fitting = [s for s in systems if _fits(scenario, s, mosquitto, sqlite_for)]
        for number in range(1, args.repeat + 1):
            order = fitting if number % 2 else fitting[::-1]
            runs += [(scenario, system, number) for system in order]
    return runs


def _fits(scenario: Any, system: System, mosquitto: str | None, sqlite_for: set[str]) -> bool:
    if system.kind == "mqtt" and mosquitto is None:
        return False
    if system.sqlite and scenario.name not in sqlite_for:
        return False
    if scenario.idle and system.qos == 1:
        return False  # nothing is published: QoS changes nothing
    if scenario.abusers and system.kind == "mqtt":
        return False  # the hostile clients speak wearstream's protocol
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    names = [s for s in args.systems.split(",") if s]
    with revisions.exported([r for r in map(lambda n: revisions.split(n)[1], names) if r]) as exported:
        return _main(args, argv, systems_named(names, exported), exported)


def _main(
    args: argparse.Namespace, argv: list[str] | None, systems: list[System],
    exported: dict[str, revisions.Revision],
) -> int:
    files = raise_file_limit()
    mosquitto = targets.mosquitto_binary()
    runs = plan(args, mosquitto, systems)
    started = datetime.now(timezone.utc)
    header = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "python": platform.python_version(),
        "broker_python": interpreter.describe(args.broker_python or sys.executable),
        "mosquitto": targets.mosquitto_version(mosquitto) if mosquitto else "Mosquitto not found: skipped",
        "duration": args.duration,
        "warmup": args.warmup,
        "repeat": args.repeat,
        "revisions": {r.spelling: r.commit for r in exported.values()},
        "commit": _this_commit(),
        "open_files_limit": files,
        "load_average_1m": os.getloadavg()[0],
        "argv": sys.argv[1:] if argv is None else argv,
    }
    timing = Timing(args.warmup, args.duration, args.profile, args.callgrind, args.broker_python)
    results = []
    for scenario, system, number in runs:
        again = f" (run {number})" if args.repeat > 1 else ""
        print(f"[{time.strftime('%H:%M:%S')}] {scenario.name} on {system.name}{again}: {scenario.title}", flush=True)
        try:
            result = run(scenario, system, timing, mosquitto)
        except Exception as error:  # a failed run is reported in the table, the others still run
            traceback.print_exc()
            result = _failed(scenario, system, error)
        if args.repeat > 1:
            result["run"] = number
        results.append(result)
    results += _scaleout(args, timing, systems)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"relay-{started.strftime('%Y%m%d-%H%M%S')}"
    table = report.markdown(header, results)
    Path(f"{stem}.md").write_text(table)
    report.write_json(Path(f"{stem}.json"), header, results)
    plotted = report.plot(Path(f"{stem}.png"), results)
    print(table)
    print(f"wrote {stem}.md, {stem}.json" + (f", {stem}.png" if plotted else " (no plot)"))
    return 1 if any(r.get("failed") for r in results) else 0


def _this_commit() -> str:
    """The commit of this checkout (what plain ``wearstream`` runs), "+" when the tree has changes."""
    try:
        commit = revisions.resolve("HEAD")
    except SystemExit:
        return "unknown"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return commit + ("+" if dirty else "")


def _scaleout(args: argparse.Namespace, timing: Timing, systems: list[System]) -> list[dict[str, Any]]:
    """The scaleout scenario, once per node count (and revision, ABBA), when asked for."""
    if not scaleout.wanted(args.scenarios.split(","))[1]:
        return []
    nodes = [int(n) for n in args.nodes.split(",") if n]
    clusters = scaleout.systems(systems)
    results = []
    turn = 0
    for count, scenario in scaleout.scenarios(nodes, producers=args.producers, rate=args.rate):
        for number in range(1, args.repeat + 1):
            again = f" (run {number})" if args.repeat > 1 else ""
            for system in clusters if turn % 2 == 0 else clusters[::-1]:
                print(f"[{time.strftime('%H:%M:%S')}] {scenario.name} on {system.name}{again}: {scenario.title}",
                      flush=True)
                try:
                    result = scaleout.run(count, scenario, timing, system)
                except Exception as error:  # reported in the table, like any failed run
                    traceback.print_exc()
                    result = _failed(scenario, system, error)
                if args.repeat > 1:
                    result["run"] = number
                results.append(result)
            turn += 1
    return results


def _failed(scenario: Any, system: Any, error: Exception) -> dict[str, Any]:
    return {
        "scenario": scenario.name, "title": scenario.title, "system": system.name,
        "label": system.label, "revision": system.revision, "idle": scenario.idle, "offered_per_s": scenario.offered,
        "failed": f"{type(error).__name__}: {error}"[:500],
    }


if __name__ == "__main__":
    sys.exit(main())
