"""One Markdown table per run (every system side by side, with wearstream/Mosquitto ratios), its
JSON, and a plot of latency percentiles against offered load."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

Figure = tuple[str, Callable[[dict[str, Any]], float | None], str]

SYSTEM_ORDER = ("wearstream", "wearstream-sqlite", "wearstream-redis", "mosquitto-qos0", "mosquitto-qos1")
PEERS = ("mosquitto-qos0", "mosquitto-qos1")
LOADGEN_BUSY_PCT = 85.0
CPU_COUNT = os.cpu_count() or 1
OWN_PROCESSES = 2  # the broker and a busy load generator add this much to the load average


def _each(values: list[float | None] | None) -> str | None:
    """Per-node figures in one cell, node 1 first."""
    if not values or None in values:
        return None
    return " / ".join(f"{v:.1f}" for v in values if v is not None)


def _latency(name: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r["latency_ms"][name] if r.get("latency_ms") else None


def rss_per_connection_kib(r: dict[str, Any]) -> float | None:
    if not r.get("producers_alive"):
        return None
    return (r["rss_end_kib"] - r["rss_baseline_kib"]) / r["producers_alive"]


FLOW_FIGURES: list[Figure] = [
    ("offered readings/s", lambda r: r["offered_per_s"], "{:,.0f}"),
    ("delivered samples/s", lambda r: r["delivered_per_s"], "{:,.0f}"),
    ("broker CPU µs/sample", lambda r: r["broker_cpu_us_per_sample"], "{:.1f}"),
    ("broker CPU %", lambda r: r["broker_cpu_pct"], "{:.0f}"),
    ("latency p50 ms", _latency("p50"), "{:.2f}"),
    ("latency p95 ms", _latency("p95"), "{:.2f}"),
    ("latency p99 ms", _latency("p99"), "{:.2f}"),
    ("peak broker RSS MiB", lambda r: r["peak_rss_kib"] / 1024, "{:.1f}"),
    ("losses", lambda r: r["losses"], "{:,}"),
    ("load-gen CPU % (busiest process)", lambda r: max(r["loadgen_cpu_pct"], default=0), "{:.0f}"),
]
# With --callgrind (bench/instructions.py): the one figure of such a run that is the broker's own.
INSTRUCTIONS: Figure = (
    "broker instructions/sample (callgrind)", lambda r: r.get("broker_instructions_per_sample"), "{:,.0f}"
)
# Scale-out (bench/scaleout.py): broker CPU and RSS are summed over the nodes; Redis is beside them.
SCALEOUT_FIGURES: list[Figure] = [
    *FLOW_FIGURES[:2],
    ("broker CPU µs/sample, all nodes", lambda r: r["broker_cpu_us_per_sample"], "{:.1f}"),
    ("broker CPU %, all nodes", lambda r: r["broker_cpu_pct"], "{:.0f}"),
    ("Redis CPU %", lambda r: r["redis_cpu_pct"], "{:.0f}"),
    ("broker CPU µs/reading, each node", lambda r: _each(r.get("node_cpu_us_per_reading")), "{}"),
    ("Redis CPU µs/reading", lambda r: r.get("redis_cpu_us_per_reading"), "{:.1f}"),
    *FLOW_FIGURES[4:7],
    ("peak broker RSS MiB, all nodes", lambda r: r["peak_rss_kib"] / 1024, "{:.1f}"),
    *FLOW_FIGURES[8:],
]
# The abuse scenario: the honest figures, then what the hostile clients did.
ABUSE_FIGURES: list[Figure] = [
    *FLOW_FIGURES,
    ("hostile rounds (connections or bursts)", lambda r: sum(r["abuse"]["rounds"].values()), "{:,}"),
    ("hostile connections closed or refused", lambda r: sum(r["abuse"]["closed"].values()), "{:,}"),
]
IDLE_FIGURES: list[Figure] = [
    ("connections tried", lambda r: r["producers"], "{:,}"),
    ("connections held", lambda r: r["producers_alive"], "{:,}"),
    ("broker RSS per connection KiB", rss_per_connection_kib, "{:.1f}"),
    ("broker CPU % (heartbeats)", lambda r: r["broker_cpu_pct"], "{:.1f}"),
    ("peak broker RSS MiB", lambda r: r["peak_rss_kib"] / 1024, "{:.1f}"),
    ("setup s", lambda r: r["setup_s"], "{:.1f}"),
]


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def _ratio(ours: float | str | None, theirs: float | str | None) -> str:
    if not isinstance(ours, (int, float)) or not isinstance(theirs, (int, float)):
        return "—"  # missing, or a cell of several figures (one per node)
    if theirs == 0:
        return "—" if ours == 0 else "∞"
    return f"{ours / theirs:.2f}"


def ordered_systems(results: list[dict[str, Any]]) -> list[str]:
    """The systems of a run: the known ones in their usual order, each followed by its revisions."""
    seen = list(dict.fromkeys(r["system"] for r in results))

    def key(name: str) -> tuple[int, int, int]:
        base, _, revision = name.partition("@")
        rank = SYSTEM_ORDER.index(base) if base in SYSTEM_ORDER else len(SYSTEM_ORDER)
        return rank, 1 if revision else 0, seen.index(name)

    return sorted(seen, key=key)


def _comparisons(systems: list[str]) -> list[tuple[str, str]]:
    """(ours, theirs) for each ratio column: wearstream against each peer, and each system at
    this checkout against itself at every other revision in the run (after / before)."""
    pairs = [("wearstream", p) for p in PEERS if p in systems] if "wearstream" in systems else []
    for name in systems:
        base, at, _ = name.partition("@")
        if at and base in systems:
            pairs.append((base, name))
    return pairs


def markdown(header: dict[str, Any], results: list[dict[str, Any]]) -> str:
    systems = ordered_systems(results)
    labels = {r["system"]: r["label"] for r in results}
    pairs = _comparisons(systems)
    lines = [
        f"# wearstream relay benchmark, {header['started']}",
        "",
        f"Machine: {header['machine']}. Python {header['python']}"
        + (f"; wearstream brokers on Python {header['broker_python']}" if "broker_python" in header else "")
        + f". {header['mosquitto']}.",
        f"Window {header['duration']:g} s after {header['warmup']:g} s warm-up, per scenario and system; "
        f"load average {header['load_average_1m']:.1f} when the run began.",
        *_provenance(header),
        "",
        "| scenario | figure | " + " | ".join(labels[s] for s in systems)
        + "".join(f" | {labels[a]} / {labels[b]}" for a, b in pairs) + " |",
        "|---|---|" + "---:|" * (len(systems) + len(pairs)),
    ]
    groups = list(dict.fromkeys((r["scenario"], r.get("run")) for r in results))
    for name, number in groups:
        runs = {r["system"]: r for r in results if r["scenario"] == name and r.get("run") == number}
        first = next(iter(runs.values()))
        figures = _figures_of(first)
        if any("broker_instructions_per_sample" in r for r in runs.values()):
            figures = [*figures, INSTRUCTIONS]
        again = f" (run {number})" if number else ""
        for i, (title, get, fmt) in enumerate(figures):
            values = {s: (get(runs[s]) if s in runs and not runs[s].get("failed") else None) for s in systems}
            cells = [_cell(values[s], fmt) for s in systems]
            ratios = [_ratio(values[a], values[b]) for a, b in pairs]
            scenario_cell = f"**{name}**{again} {first['title']}" if i == 0 else ""
            lines.append(f"| {scenario_cell} | {title} | " + " | ".join(cells + ratios) + " |")
    lines += ["", *_notes(results)]
    return "\n".join(lines) + "\n"


def _provenance(header: dict[str, Any]) -> list[str]:
    """Which code each wearstream column ran, when the run compared revisions."""
    revisions = header.get("revisions") or {}
    if not revisions:
        return []
    spellings: dict[str, list[str]] = {}
    for spelling, commit in revisions.items():
        spellings.setdefault(commit, []).append(f"`{spelling}`")
    each = ", ".join(f"@{commit[:7]} = {' = '.join(names)} ({commit})" for commit, names in spellings.items())
    return [f"Plain wearstream columns ran this checkout ({header.get('commit', 'unknown')}); {each}."]


def _figures_of(run: dict[str, Any]) -> list[Figure]:
    if run.get("idle"):
        return IDLE_FIGURES
    if run.get("abuse"):
        return ABUSE_FIGURES
    return SCALEOUT_FIGURES if "redis_cpu_pct" in run else FLOW_FIGURES


def _notes(results: list[dict[str, Any]]) -> list[str]:
    notes = []
    for r in results:
        where = f"{r['scenario']}/{r['system']}" + (f" (run {r['run']})" if r.get("run") else "")
        if r.get("failed"):
            notes.append(f"- {where}: FAILED: {r['failed']}")
            continue
        load = r.get("load_average_1m", 0)
        if load > CPU_COUNT + OWN_PROCESSES:
            notes.append(f"- {where}: load average {load:.1f} on {CPU_COUNT} CPUs: other work may have competed")
        busy = max(r["loadgen_cpu_pct"], default=0)
        if busy > LOADGEN_BUSY_PCT:
            notes.append(f"- {where}: a load-generator process used {busy:.0f}% of a core: it may be the bottleneck")
        if r["losses"] or r["out_of_order"]:
            notes.append(f"- {where}: {r['losses']} lost, {r['out_of_order']} out of order or duplicated")
        if r.get("abuse"):
            rounds, closed = r["abuse"]["rounds"], r["abuse"]["closed"]
            each = ", ".join(f"{b} {rounds[b]:,} ({closed.get(b, 0):,} closed)" for b in rounds)
            notes.append(f"- {where}: hostile rounds per behaviour: {each}")
        if r["connect_failures"]:
            notes.append(f"- {where}: {r['connect_failures']} connections failed: {r['errors'][:2]}")
    return notes or ["- No losses, no reordering, no connection failures; every load generator below "
                     f"{LOADGEN_BUSY_PCT:.0f}% of a core."]


def write_json(path: Path, header: dict[str, Any], results: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"header": header, "results": results}, indent=1) + "\n")


def plot(path: Path, results: list[dict[str, Any]]) -> bool:
    """Latency p50/p95/p99 against offered load, one colour per system; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    paced = [r for r in results if r.get("offered_per_s") and r.get("latency_ms") and not r.get("failed")]
    if not paced:
        return False
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for axis, name in zip(axes, ("p50", "p95", "p99")):
        for colour, system in enumerate(ordered_systems(paced)):
            runs = [r for r in paced if r["system"] == system]
            if not runs:
                continue
            # The sweep is a line; the lettered scenarios (other shapes of load) are lone crosses.
            swept = sorted((r["offered_per_s"], r["latency_ms"][name]) for r in runs if r["scenario"].startswith("s"))
            others = [(r["offered_per_s"], r["latency_ms"][name]) for r in runs if not r["scenario"].startswith("s")]
            style = {"color": f"C{colour}", "label": runs[0]["label"]}
            if swept:
                axis.plot([p[0] for p in swept], [p[1] for p in swept], marker="o", **style)
                style.pop("label")
            if others:
                axis.plot([p[0] for p in others], [p[1] for p in others], "x", markersize=9, **style)
        axis.set_title(f"latency {name}")
        axis.set_xlabel("offered readings/s")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms, producer send -> consumer receive (x: scenarios b, c, d)")
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
