"""The scale-out capacity model, fitted to scale-out runs at two loads (a plain script).

    python -m bench.capacity RESULTS_LOW.json RESULTS_HIGH.json [--system NAME]

Each file is a ``bench.relay --scenarios scaleout --nodes 1,2,3`` result at one load (say 1,000 and
3,000 readings/s: ``--producers 1000 --rate 1`` and ``--rate 3``). In that scenario node 1 has the
consumer and every node an equal share of the producers, so a node's CPU (cores) is

    node 1:      F + i·R/N + o·R + x·R·(N-1)/N
    node k > 1:  F + i·R/N

with R readings/s in all, F what a node spends whatever the load (timers, leases, the append
notifications of every node), i the CPU of taking in a reading (socket, validation, the append),
o of handing it to a consumer, x of following it from another node's notification. The slope
between the two loads gives the marginal costs: i from nodes 2…N, o from one node (i + o), x from
node 1 at N > 1. A model fitted on 1 and 2 nodes predicts the 3-node run (the check); the one on
all of them gives the capacity of N nodes on N cores, producers and consumers spread evenly:

    R_max(N) = N·(1 - F) / (i + o + x·(N-1)/N)

and Redis (its own core) caps it at (1 - F_redis) / r, r its marginal CPU per reading. Marginal
costs measured between two light loads overstate the cost at saturation (batches grow with the
load), so R_max is a floor on one node's core, not a promise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean
from typing import Any

import attrs

Point = dict[str, Any]


def load(path: Path, system: str | None) -> dict[int, Point]:
    """The scale-out results of ``path`` by node count (of ``system``, or of the only one)."""
    results = [r for r in json.loads(path.read_text())["results"] if r.get("nodes") and not r.get("failed")]
    systems = sorted({r["system"] for r in results})
    chosen = system or (systems[0] if len(systems) == 1 else None)
    if chosen is None:
        raise SystemExit(f"{path} has several systems ({', '.join(systems)}): name one with --system")
    by_count: dict[int, list[Point]] = {}
    for r in results:
        if r["system"] == chosen:
            by_count.setdefault(r["nodes"], []).append(r)
    return {n: averaged(runs) for n, runs in by_count.items()}


def averaged(runs: list[Point]) -> Point:
    """One point from ``--repeat`` runs: the mean of each figure the model uses."""
    return {
        "nodes": runs[0]["nodes"],
        "delivered_per_s": mean(r["delivered_per_s"] for r in runs),
        "redis_cpu_pct": mean(r["redis_cpu_pct"] for r in runs),
        "node_cpu_pct": [mean(values) for values in zip(*(r["node_cpu_pct"] for r in runs))],
    }


def cores(point: Point) -> list[float]:
    return [pct / 100 for pct in point["node_cpu_pct"]]


def slope(low: float, high: float, rate_low: float, rate_high: float) -> float:
    return (high - low) / (rate_high - rate_low)


@attrs.frozen
class Model:
    fixed: dict[int, float]  # F by node count: a node's CPU (cores) at no load
    take_in: float  # i, core-seconds per reading
    hand_out: float  # o
    follow: float  # x
    redis: dict[int, float]  # r by node count, Redis core-seconds per reading
    redis_fixed: dict[int, float]

    def node_cores(self, nodes: int, rate: float) -> list[float]:
        """What the model says each node spends at ``rate`` readings/s (node 1 has the consumer)."""
        fixed = self.fixed.get(nodes, mean(self.fixed.values()))
        base = fixed + self.take_in * rate / nodes
        return [base + self.hand_out * rate + self.follow * rate * (nodes - 1) / nodes] + [base] * (nodes - 1)

    def capacity(self, nodes: int) -> float:
        """Readings/s of ``nodes`` nodes, one core each, producers and consumers spread evenly."""
        fixed = self.fixed.get(nodes, max(self.fixed.values()))
        per_reading = self.take_in + self.hand_out + self.follow * (nodes - 1) / nodes
        return nodes * (1 - fixed) / per_reading

    def redis_capacity(self, nodes: int) -> float:
        r = self.redis.get(nodes, max(self.redis.values()))
        return (1 - self.redis_fixed.get(nodes, 0.0)) / r


def fit(low: dict[int, Point], high: dict[int, Point], counts: list[int]) -> Model:
    rate = {n: (low[n]["delivered_per_s"], high[n]["delivered_per_s"]) for n in counts}
    one = slope(cores(low[1])[0], cores(high[1])[0], *rate[1])
    take_in = mean(
        n * slope(cores(low[n])[k], cores(high[n])[k], *rate[n]) for n in counts if n > 1 for k in range(1, n)
    )
    hand_out = one - take_in
    follow = mean(
        (slope(cores(low[n])[0], cores(high[n])[0], *rate[n]) - take_in / n - hand_out) * n / (n - 1)
        for n in counts if n > 1
    )
    fixed = {}
    for n in counts:
        at = Model({n: 0.0}, take_in, hand_out, follow, {}, {}).node_cores(n, rate[n][0])
        fixed[n] = mean(measured - modelled for measured, modelled in zip(cores(low[n]), at))
    redis = {n: slope(low[n]["redis_cpu_pct"] / 100, high[n]["redis_cpu_pct"] / 100, *rate[n]) for n in counts}
    redis_fixed = {n: low[n]["redis_cpu_pct"] / 100 - redis[n] * rate[n][0] for n in counts}
    return Model(fixed, take_in, hand_out, follow, redis, redis_fixed)


def report(low: dict[int, Point], high: dict[int, Point]) -> None:
    counts = sorted(set(low) & set(high))
    model = fit(low, high, counts)
    us = 1e6
    print(f"marginal CPU per reading: take in i = {us * model.take_in:.1f} µs, hand out o = "
          f"{us * model.hand_out:.1f} µs, follow x = {us * model.follow:.1f} µs")
    print("fixed per node F (cores): " + ", ".join(f"{n} nodes {f:.3f}" for n, f in model.fixed.items()))
    print("Redis marginal µs per reading: " + ", ".join(f"{n} nodes {us * r:.1f}" for n, r in model.redis.items()))
    if len(counts) > 2 and 1 in counts and 2 in counts:
        check = fit(low, high, [1, 2])
        for n in counts[2:]:
            for points in (low, high):
                predicted = check.node_cores(n, points[n]["delivered_per_s"])
                measured = cores(points[n])
                print(f"check, {n} nodes at {points[n]['delivered_per_s']:,.0f}/s (fitted on 1-2 nodes): "
                      f"predicted {' / '.join(f'{c:.3f}' for c in predicted)}, "
                      f"measured {' / '.join(f'{c:.3f}' for c in measured)} cores")
    single = model.capacity(1)
    print(f"{'nodes':>5} {'readings/s':>11} {'÷ N×one':>8} {'Redis cap':>10}")
    for n in range(1, max(counts) + 2):
        print(f"{n:>5} {model.capacity(n):>11,.0f} {model.capacity(n) / (n * single):>8.2f} "
              f"{model.redis_capacity(n):>10,.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("low", type=Path, help="scale-out results at the lower load (JSON)")
    parser.add_argument("high", type=Path, help="scale-out results at the higher load (JSON)")
    parser.add_argument("--system", help="which system's runs, when the files hold several")
    arguments = parser.parse_args()
    report(load(arguments.low, arguments.system), load(arguments.high, arguments.system))
