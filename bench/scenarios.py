"""The workloads of issue 5, by letter, a load sweep for the latency plot, and issue 12's abuse
scenario (scenario b's honest load while hostile clients attack: compare the two)."""

from __future__ import annotations

import attrs

from .abuse import BEHAVIOURS

IDLE_HEARTBEAT_MS = 10_000  # (e): every connection heartbeats about once in a 10 s window
# (f): a load generator holds its 5,000 connections in several processes, so no one of them is
# what limits a 1 Hz run on this machine (each process also keeps its share of heartbeats).
PRODUCER_PROCESSES_5K = 3
# (g): the throughput scenario: a producer writing one reading per send spends ~25 µs of its own
# CPU per reading, so it cannot offer 50,000/s; batches let the broker show what it can take.
THROUGHPUT_BATCH = 32
ABUSERS_PER_BEHAVIOUR = 5


@attrs.frozen
class Scenario:
    name: str
    title: str
    producers: int
    rate: float  # readings/s per producer; 0 = as fast as the broker takes them
    developers: int = 1  # producer i belongs to developer i % developers; one consumer each
    idle: bool = False  # producers only heartbeat, nobody consumes
    heartbeat_ms: int = 40_000
    producer_processes: int = 1
    batch: int = 1  # readings per write at maximum rate (one reading per write otherwise)
    abusers: int = 0  # hostile clients of each behaviour of bench/abuse.py, in their own process
    behaviours: tuple[str, ...] = BEHAVIOURS  # which behaviours the abusers have

    @property
    def offered(self) -> float | None:
        """Readings/s offered in total; None when unbounded (or idle)."""
        if self.idle or self.rate <= 0:
            return None
        return self.producers * self.rate

    @property
    def consumers(self) -> int:
        return 0 if self.idle else self.developers


SCENARIOS = {
    "a": Scenario("a", "1 producer -> 1 consumer, maximum rate", 1, 0),
    "b": Scenario("b", "1,000 producers at 1 Hz -> 1 consumer", 1000, 1),
    "c": Scenario("c", "10 producers at 50 Hz -> 1 consumer", 10, 50),
    "d": Scenario("d", "100 producers at 10 Hz -> 10 developers, one consumer each", 100, 10, 10),
    "e": Scenario(
        "e", "idle producers holding connections, heartbeating", 10_000, 0, idle=True,
        heartbeat_ms=IDLE_HEARTBEAT_MS, producer_processes=2,
    ),
    "f": Scenario(
        "f", "5,000 producers at 1 Hz -> 1 consumer", 5000, 1, producer_processes=PRODUCER_PROCESSES_5K,
    ),
    "g": Scenario(
        "g", f"1 producer -> 1 consumer, maximum rate, {THROUGHPUT_BATCH} readings per write", 1, 0,
        batch=THROUGHPUT_BATCH,
    ),
    "abuse": Scenario(
        "abuse", "1,000 producers at 1 Hz -> 1 consumer (as b) while hostile clients attack",
        1000, 1, abusers=ABUSERS_PER_BEHAVIOUR,
    ),
}
SWEEP_TOTALS = (1000, 2500, 5000, 10_000, 15_000)
SWEEP_PRODUCERS = 10


def sweep() -> list[Scenario]:
    """10 producers -> 1 consumer at rising total rates: latency against offered load."""
    return [
        Scenario(f"s{total}", f"load sweep: 10 producers, {total:,}/s total -> 1 consumer",
                 SWEEP_PRODUCERS, total / SWEEP_PRODUCERS)
        for total in SWEEP_TOTALS
    ]


def select(
    names: list[str], *, producers: int | None, rate: float | None, idle: int | None,
    abusers: int | None = None, behaviours: tuple[str, ...] | None = None,
) -> list[Scenario]:
    """The scenarios named (letters, or "sweep"), with the command line's overrides applied."""
    chosen: list[Scenario] = []
    for name in names:
        if name == "sweep":
            chosen += sweep()
        elif name in SCENARIOS:
            chosen.append(SCENARIOS[name])
        else:
            raise SystemExit(f"unknown scenario {name!r}: choose from {', '.join([*SCENARIOS, 'sweep'])}")
    result = []
    for scenario in chosen:
        changes: dict[str, object] = {}
        if scenario.idle:
            if idle is not None:
                changes["producers"] = idle
        else:
            if producers is not None:
                changes["producers"] = producers
            if rate is not None:
                changes["rate"] = rate
            if changes:
                changes["title"] = f"{scenario.title} (overridden: {_describe(producers, rate)})"
        if scenario.abusers and abusers is not None:
            changes["abusers"] = abusers
        if scenario.abusers and behaviours is not None:
            unknown = set(behaviours) - set(BEHAVIOURS)
            if unknown:
                raise SystemExit(f"unknown behaviours {sorted(unknown)}: choose from {', '.join(BEHAVIOURS)}")
            changes["behaviours"] = behaviours
            changes["title"] = f"{scenario.title} (only {', '.join(behaviours)})"
        result.append(attrs.evolve(scenario, **changes))
    return result


def _describe(producers: int | None, rate: float | None) -> str:
    parts = []
    if producers is not None:
        parts.append(f"{producers} producers")
    if rate is not None:
        parts.append(f"{rate:g}/s each" if rate > 0 else "maximum rate")
    return ", ".join(parts)
