"""One scenario on one system: start it, drive it from worker processes, measure, stop it.

The broker's CPU (user + system, every thread) and the workers' CPU are read from /proc at the
start and at the end of the measurement window, so setup and drain cost nothing in the figures.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable

import attrs

from . import abuse, instructions, interpreter, procstat, revisions, targets
from .loadgen import WorkerConfig, worker_main
from .scenarios import Scenario

SETUP_TIMEOUT = 1200.0
REPLY_TIMEOUT = 120.0
START_DELAY = 0.5
DRAIN = 15.0
KEEPALIVE_S = 40


@attrs.frozen
class System:
    name: str
    label: str
    kind: str  # "wearstream" or "mqtt"
    sqlite: bool = False
    qos: int = 0
    revision: str = ""  # the commit a wearstream system runs at ("": this checkout)
    code: Path | None = None  # where that revision's code was exported (bench/revisions.py)


SYSTEMS = {
    s.name: s
    for s in (
        System("wearstream", "wearstream", "wearstream"),
        System("wearstream-sqlite", "wearstream+SQLite", "wearstream", sqlite=True),
        System("mosquitto-qos0", "Mosquitto QoS 0", "mqtt", qos=0),
        System("mosquitto-qos1", "Mosquitto QoS 1", "mqtt", qos=1),
    )
}


PROFILER_GRACE = 60.0  # s a profiler (py-spy, callgrind_control) may take past the window


@attrs.frozen
class Timing:
    warmup: float
    duration: float
    profile_dir: Path | None = None  # py-spy the wearstream broker during the window, into here
    callgrind_dir: Path | None = None  # count its instructions over the window (bench/instructions.py)
    broker_python: str | None = None  # the interpreter its brokers run under (bench/interpreter.py)


class BenchError(RuntimeError):
    """A worker or a target failed; the run is reported as failed."""


def at_revision(system: System, revision: revisions.Revision) -> System:
    """``system`` (a wearstream one) running the code of ``revision``, named ``system@commit``."""
    if system.kind != "wearstream":
        raise SystemExit(f"{system.name} is not wearstream: only wearstream systems run at a revision")
    return attrs.evolve(
        system, name=f"{system.name}@{revision.short}", label=f"{system.label}@{revision.short}",
        revision=revision.commit, code=revision.code,
    )


def run(scenario: Scenario, system: System, timing: Timing, mosquitto: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{scenario.name}-{system.name.replace('@', '-')}-") as tmp:
        workdir = Path(tmp)
        target, base = _start(scenario, system, workdir, mosquitto, _wrapper(scenario, system, timing))
        try:
            baseline_rss = procstat.rss_kib(target.pid)
            try:
                result = _drive(scenario, system, timing, target, base)
                result["rss_baseline_kib"] = baseline_rss
                result["peak_rss_kib"] = procstat.peak_rss_kib(target.pid)
                return result
            except Exception as error:
                if not procstat.running(target.pid):
                    raise BenchError(f"the broker exited during the run{_last_words(target)}") from error
                raise
        finally:
            target.stop()


def _last_words(target: Any) -> str:
    """The end of a dead wearstream broker's stderr (its traceback), for the report."""
    process = getattr(target, "process", None)
    if process is None or not process.stderr_path.exists():
        return ""
    lines = [line for line in process.stderr_path.read_text(errors="replace").splitlines() if line.strip()]
    return ": " + " / ".join(lines[-3:])[-600:]


def _wrapper(scenario: Scenario, system: System, timing: Timing) -> Callable[[list[str]], list[str]] | None:
    """What the wearstream broker's command runs under (another interpreter, callgrind), if
    anything."""
    python, out = timing.broker_python, timing.callgrind_dir
    if system.kind != "wearstream" or (python is None and out is None):
        return None
    name = _run_name(scenario, system)

    def wrap(command: list[str]) -> list[str]:
        if python is not None:
            command = interpreter.run_under(python, command)
        if out is not None:
            command = instructions.wrap(command, out, name)
        return command

    return wrap


def _run_name(scenario: Scenario, system: System) -> str:
    return f"{scenario.name}-{system.name.replace('@', '-')}"


def _start(
    scenario: Scenario, system: System, workdir: Path, mosquitto: str | None,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> tuple[Any, WorkerConfig]:
    if system.kind == "mqtt":
        assert mosquitto is not None
        target = targets.start_mosquitto(workdir, mosquitto)
        keepalive = max(1, scenario.heartbeat_ms // 1000) if scenario.idle else KEEPALIVE_S
        return target, WorkerConfig("mqtt", qos=system.qos, mqtt_port=target.port, keepalive=keepalive)
    hostile = abuse.plan(scenario.abusers, scenario.developers, scenario.behaviours)[1]
    with revisions.on_path(system.code):
        ws = targets.start_wearstream(
            workdir, scenario.developers + hostile, scenario.heartbeat_ms, sqlite=system.sqlite, wrap=wrap
        )
    config = WorkerConfig(
        "wearstream", ws_url=ws.process.ws_url, http_url=ws.process.http_url,
        developers=tuple(ws.developers),
    )
    return ws, config


def _worker_configs(scenario: Scenario, base: WorkerConfig) -> list[WorkerConfig]:
    """One process for the consumers, and the producers split over the others."""
    configs = []
    if scenario.consumers:
        configs.append(attrs.evolve(base, consumers=tuple(range(scenario.developers))))
    producers = [(i, i % scenario.developers) for i in range(scenario.producers)]
    parts = max(1, scenario.producer_processes)
    for k in range(parts):
        share = tuple(producers[k::parts])
        if share:
            configs.append(attrs.evolve(
                base, producers=share, rate=scenario.rate, idle=scenario.idle, batch=scenario.batch
            ))
    if scenario.abusers:
        abusers = abuse.plan(scenario.abusers, scenario.developers, scenario.behaviours)[0]
        configs.append(attrs.evolve(base, abusers=tuple(abusers)))
    return configs


class Workers:
    """The load-generator processes and their pipes."""

    def __init__(self, configs: list[WorkerConfig]) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for config in configs:
            parent, child = context.Pipe()
            process = context.Process(target=worker_main, args=(child, config), daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def send(self, message: Any) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def gather(self, timeout: float) -> list[Any]:
        replies: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(replies) < len(self.pipes):
            left = deadline - time.monotonic()
            ready = wait([p for i, p in enumerate(self.pipes) if i not in replies], max(0.0, left))
            if not ready and left <= 0:
                raise BenchError(f"load generator silent for {timeout:g} s")
            for pipe in ready:
                index = self.pipes.index(pipe)  # type: ignore[arg-type]
                try:
                    replies[index] = pipe.recv()  # type: ignore[union-attr]
                except EOFError:
                    raise BenchError(f"load generator {index} died") from None
        return [replies[i] for i in range(len(self.pipes))]

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes):
            try:
                pipe.send("exit")
            except (BrokenPipeError, OSError):
                pass
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
            pipe.close()


def profile_broker(timing: Timing, scenario: Scenario, system: System, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy (collapsed stacks, non-blocking: the broker is never paused) over the window, or
    callgrind's counting (bench/instructions.py)."""
    if timing.callgrind_dir is not None and system.kind == "wearstream":
        return instructions.count_window(pid, timing.duration)
    if timing.profile_dir is None or system.kind != "wearstream":
        return None
    timing.profile_dir.mkdir(parents=True, exist_ok=True)
    out = timing.profile_dir / f"{scenario.name}-{system.name}.txt"
    command = [
        shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record",
        "--pid", str(pid), "--duration", str(max(1, int(timing.duration))), "--rate", "250",
        "--nonblocking", "--format", "raw", "--output", str(out),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu(pids: list[int]) -> list[float]:
    return [procstat.cpu_seconds(pid) for pid in pids]


def _sleep_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


def _drive(scenario: Scenario, system: System, timing: Timing, target: Any, base: WorkerConfig) -> dict[str, Any]:
    step = lock_step(
        scenario, timing, _worker_configs(scenario, base), [target.pid],
        profile=lambda: profile_broker(timing, scenario, system, target.pid),
    )
    figures = figures_of(scenario, system, step, step.cpu)
    figures["load_average_1m"] = step.load
    if timing.callgrind_dir is not None and system.kind == "wearstream":
        counted = instructions.window_total(timing.callgrind_dir, _run_name(scenario, system), target.pid)
        in_window = figures["delivered_per_s"] * step.elapsed
        figures["broker_instructions_per_sample"] = counted / in_window if in_window else None
    return figures


@attrs.frozen
class Step:
    """What one lock-step run measured; ``cpu`` is per pid (fraction of a core over the window),
    in the order brokers, ``extra``, load generators."""

    cpu: list[float]
    rss_end: int  # KiB, summed over the brokers
    load: float
    elapsed: float
    connected: list[dict[str, Any]]
    sent_replies: list[dict[str, Any]]
    sent: dict[int, int]
    received: list[dict[int, dict[str, Any]]]
    setup_seconds: float


def lock_step(
    scenario: Scenario,
    timing: Timing,
    configs: list[WorkerConfig],
    brokers: list[int],
    extra: tuple[int, ...] = (),
    profile: Callable[[], subprocess.Popen[bytes] | None] = lambda: None,
) -> Step:
    """Set the workers up, run them over one window in lock step, and collect what they saw."""
    workers = Workers(configs)
    try:
        setup_started = time.monotonic()
        connected = workers.gather(SETUP_TIMEOUT)
        setup_seconds = time.monotonic() - setup_started
        start = time.time() + START_DELAY
        window = (start + timing.warmup, start + timing.warmup + timing.duration)
        workers.send({"start": start, "window": window, "stop": window[1]})
        pids = [*brokers, *extra, *workers.pids]
        _sleep_until(window[0])
        cpu_before = _cpu(pids)
        profiler = profile()
        _sleep_until(window[1])
        cpu_after = _cpu(pids)
        if profiler is not None:
            profiler.wait(timeout=timing.duration + PROFILER_GRACE)
        rss_end = sum(procstat.rss_kib(pid) for pid in brokers)
        load = procstat.load_average()
        elapsed = window[1] - window[0]
        sent_replies = workers.gather(REPLY_TIMEOUT)
        sent = _sent_per_developer(sent_replies, scenario)
        workers.send({"expect": sent, "drain": DRAIN})
        received = [r["consumers"] for r in workers.gather(REPLY_TIMEOUT + DRAIN)]
    finally:
        workers.close()
    cpu = [(after - before) / elapsed for before, after in zip(cpu_before, cpu_after)]
    return Step(cpu, rss_end, load, elapsed, connected, sent_replies, sent, received, setup_seconds)


def figures_of(scenario: Scenario, system: System, step: Step, cpu: list[float]) -> dict[str, Any]:
    """The figures of one step; ``cpu`` is the broker's share first, then the load generators'."""
    return _figures(
        scenario, system, step.elapsed, cpu, step.rss_end, step.connected, step.sent_replies,
        step.sent, step.received, step.setup_seconds,
    )


def _sent_per_developer(replies: list[dict[str, Any]], scenario: Scenario) -> dict[int, int]:
    totals = {dev: 0 for dev in range(scenario.developers)}
    for reply in replies:
        for index, count in reply["sent"].items():
            totals[index % scenario.developers] += count
    return totals


def _figures(
    scenario: Scenario,
    system: System,
    elapsed: float,
    cpu: list[float],
    rss_end: int,
    connected: list[dict[str, Any]],
    sent_replies: list[dict[str, Any]],
    sent: dict[int, int],
    received: list[dict[int, dict[str, Any]]],
    setup_seconds: float,
) -> dict[str, Any]:
    consumers = {dev: r for reply in received for dev, r in reply.items()}
    latencies = array("d")
    for r in consumers.values():
        latencies.frombytes(r["latencies"])
    in_window = sum(r["in_window"] for r in consumers.values())
    distinct = {dev: consumers[dev]["distinct"] if dev in consumers else 0 for dev in sent}
    broker_cpu = cpu[0]
    alive = sum(r["alive"] for r in sent_replies)
    errors = [e for r in [*connected, *sent_replies] for e in r["errors"]]
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "system": system.name,
        "label": system.label,
        "revision": system.revision,
        "idle": scenario.idle,
        "producers": scenario.producers,
        "developers": scenario.developers,
        "rate_per_producer": scenario.rate,
        "offered_per_s": scenario.offered,
        "window_s": elapsed,
        "setup_s": setup_seconds,
        "connected": sum(r["connected"] for r in connected),
        "connect_failures": sum(r["failed"] for r in connected),
        "producers_alive": alive,
        "sent": sum(sent.values()),
        "received": sum(r["received"] for r in consumers.values()),
        "delivered_per_s": in_window / elapsed,
        "broker_cpu_pct": 100 * broker_cpu,
        "broker_cpu_us_per_sample": (broker_cpu * elapsed * 1e6 / in_window) if in_window else None,
        "latency_ms": _percentiles(latencies),
        "losses": sum(max(0, n - distinct[dev]) for dev, n in sent.items()) if not scenario.idle else 0,
        "out_of_order": sum(r["out_of_order"] for r in consumers.values()),
        "loadgen_cpu_pct": [100 * c for c in cpu[1:]],
        "rss_end_kib": rss_end,
        "errors": errors[:10],
        **_abuse(sent_replies),
    }


def _abuse(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """What the hostile clients did, per behaviour: rounds done, and connections the broker
    closed or refused (each then reconnected); nothing when none ran."""
    done = [r["abuse"] for r in replies if r.get("abuse")]
    if not done:
        return {}
    total: dict[str, dict[str, int]] = {"rounds": {}, "closed": {}}
    for counts in done:
        for kind, per_behaviour in counts.items():
            for behaviour, n in per_behaviour.items():
                total[kind][behaviour] = total[kind].get(behaviour, 0) + n
    return {"abuse": total}


def _percentiles(latencies: array) -> dict[str, float] | None:
    if not latencies:
        return None
    ordered = sorted(latencies)
    last = len(ordered) - 1

    def at(q: float) -> float:
        return 1000 * ordered[min(last, int(q * len(ordered)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": 1000 * ordered[last], "n": len(ordered)}
