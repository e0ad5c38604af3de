"""The scale-out scenario of the relay harness: 1, 2, 3… broker nodes on one Redis.

    python -m bench.relay --scenarios scaleout --nodes 1,2,3 [--producers N] [--rate R]

For each node count: a private redis-server on a free port (AOF with ``appendfsync everysec``,
the setting docs/deployment.md recommends), developers made by `wearstream developers create
--backend`, and that many `wearstream broker --backend` processes. The harness's load generators
then drive them: one producer process per node (producer i on node i % nodes, so most readings
cross nodes through Redis) and the consumer on node 1. The figures are the harness's own, with
the broker's CPU and RSS summed over the nodes; Redis's CPU is reported beside them, and both
per reading: each node's CPU µs per delivered reading, and Redis's.

``--systems wearstream@REV`` runs the same node counts with that git revision's brokers too
(bench/revisions.py), in turn with this checkout's, so before and after share the run.

Everything (Redis, nodes, load) shares this machine's cores, so on a small box more nodes mostly
means more contention: read the numbers as a check that the cluster works and where it
saturates, not as capacity planning.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

import attrs

from wearstream.testing.broker_process import BrokerProcess, clean_environment, wearstream_command
from wearstream.testing.redis_server import RedisServer

from . import procstat, revisions
from .loadgen import WorkerConfig
from .run import System, Timing, profile_broker, figures_of, lock_step
from .scenarios import Scenario

NAME = "scaleout"
SYSTEM = System("wearstream-redis", "wearstream+Redis", "wearstream")
BASE = Scenario(NAME, "", producers=10, rate=100)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


def systems(chosen: Sequence[System]) -> list[System]:
    """The Redis cluster at each revision among the wearstream systems of ``--systems`` (this
    checkout's when none names a revision)."""
    found: list[System] = []
    seen: set[str] = set()
    for system in chosen:
        if system.kind != "wearstream" or system.sqlite or system.revision in seen:
            continue
        seen.add(system.revision)
        short = system.revision[:7]
        found.append(SYSTEM if not system.revision else attrs.evolve(
            SYSTEM, name=f"{SYSTEM.name}@{short}", label=f"{SYSTEM.label}@{short}",
            revision=system.revision, code=system.code,
        ))
    return found or [SYSTEM]


def wanted(names: list[str]) -> tuple[list[str], bool]:
    """The other scenario names, and whether scale-out is among them."""
    return [n for n in names if n != NAME], NAME in names


def scenarios(nodes: list[int], *, producers: int | None, rate: float | None) -> list[tuple[int, Scenario]]:
    """One scenario per node count, named n1, n2…, with the command line's overrides applied."""
    base = attrs.evolve(
        BASE,
        producers=BASE.producers if producers is None else producers,
        rate=BASE.rate if rate is None else rate,
    )
    pace = f"{base.rate:g}/s each" if base.rate > 0 else "maximum rate"
    return [
        (n, attrs.evolve(
            base, name=f"n{n}",
            title=f"scale-out: {n} node{'s' if n > 1 else ''} on one Redis, "
                  f"{base.producers} producers ({pace}) over the nodes -> 1 consumer on node 1",
        ))
        for n in nodes
    ]


@attrs.define
class Cluster:
    """A private Redis and the broker nodes that share it."""

    redis: RedisServer
    nodes: list[BrokerProcess]
    developers: list[tuple[str, str]]

    @property
    def node_pids(self) -> list[int]:
        return [n.process.pid for n in self.nodes if n.process is not None]

    @property
    def redis_pid(self) -> int:
        assert self.redis.process is not None
        return self.redis.process.pid

    def stop(self) -> None:
        try:
            for node in self.nodes:
                try:
                    node.stop(timeout=STOP_TIMEOUT)
                finally:
                    node.kill()
        finally:
            self.redis.cleanup()


def create_developer(backend: str, name: str) -> tuple[str, str]:
    """`wearstream developers create NAME --backend URL --json`: the operator's way."""
    command = [*wearstream_command(), "developers", "create", name, "--backend", backend, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=clean_environment())
    made = json.loads(done.stdout.strip().splitlines()[-1])
    return made["dev_id"], made["api_key"]


def redis_everysec(redis: RedisServer) -> None:
    """The recommended production setting, instead of RedisServer's fsync-always (for tests)."""
    with socket.create_connection(("127.0.0.1", redis.port)) as sock:
        sock.sendall(b"CONFIG SET appendfsync everysec\r\n")
        reply = sock.recv(64)
    if not reply.startswith(b"+OK"):
        raise RuntimeError(f"redis refused appendfsync everysec: {reply!r}")


def start_cluster(workdir: Path, count: int, scenario: Scenario, code: Path | None = None) -> Cluster:
    """Redis and ``count`` nodes, running the code exported at ``code`` (None: this checkout's)."""
    redis = RedisServer(workdir / "redis", appendonly=True).start()
    cluster = Cluster(redis, [], [])
    try:
        redis_everysec(redis)
        cluster.developers = [create_developer(redis.url, f"bench{i}") for i in range(scenario.developers)]
        extra = ["--backend", redis.url, "--log-level", "warning"]
        for i in range(count):
            node = BrokerProcess.create(
                None, log_dir=workdir / f"node{i + 1}", heartbeat_interval=scenario.heartbeat_ms, extra=extra
            )
            cluster.nodes.append(node)
            with revisions.on_path(code):
                node.start(timeout=START_TIMEOUT)
        return cluster
    except BaseException:
        cluster.stop()
        raise


def worker_configs(scenario: Scenario, cluster: Cluster) -> list[WorkerConfig]:
    """The consumers' process on node 1, then one producer process per node."""
    def on(node: BrokerProcess) -> WorkerConfig:
        return WorkerConfig(
            "wearstream", ws_url=node.ws_url, http_url=node.http_url, developers=tuple(cluster.developers)
        )

    configs = [attrs.evolve(on(cluster.nodes[0]), consumers=tuple(range(scenario.developers)))]
    count = len(cluster.nodes)
    for k, node in enumerate(cluster.nodes):
        share = tuple((i, i % scenario.developers) for i in range(k, scenario.producers, count))
        if share:
            configs.append(attrs.evolve(on(node), producers=share, rate=scenario.rate))
    return configs


def run(count: int, scenario: Scenario, timing: Timing, system: System = SYSTEM) -> dict[str, Any]:
    """One node count: start the cluster, drive it, measure, stop it."""
    with tempfile.TemporaryDirectory(prefix=f"bench-scaleout-{count}-") as tmp:
        cluster = start_cluster(Path(tmp), count, scenario, system.code)
        try:
            baseline = sum(procstat.rss_kib(pid) for pid in cluster.node_pids)
            result = _drive(scenario, timing, cluster, system)
            result["rss_baseline_kib"] = baseline
            result["peak_rss_kib"] = sum(procstat.peak_rss_kib(pid) for pid in cluster.node_pids)
            return result
        finally:
            cluster.stop()


def _drive(scenario: Scenario, timing: Timing, cluster: Cluster, system: System) -> dict[str, Any]:
    """run's lock step, with CPU read from every node and from Redis."""
    nodes = cluster.node_pids
    step = lock_step(
        scenario, timing, worker_configs(scenario, cluster), nodes, (cluster.redis_pid,),
        profile=lambda: profile_broker(timing, scenario, system, nodes[0]),  # node 1: it has the consumer
    )
    per_node, redis_cpu, loadgen = step.cpu[: len(nodes)], step.cpu[len(nodes)], step.cpu[len(nodes) + 1 :]
    figures = figures_of(scenario, system, step, [sum(per_node), *loadgen])
    readings = figures.get("delivered_per_s") or 0
    figures.update(
        nodes=len(nodes), node_cpu_pct=[100 * c for c in per_node], redis_cpu_pct=100 * redis_cpu,
        node_cpu_us_per_reading=[1e6 * c / readings if readings else None for c in per_node],
        redis_cpu_us_per_reading=1e6 * redis_cpu / readings if readings else None,
        load_average_1m=step.load,
    )
    return figures
