"""What `make bench` prints: where it is as it goes, then one table of this run beside the last."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

MEASURES = ("throughput", "latency", "cli", "history", "simulation", "replay", "scale", "program", "programs")
STARTED = time.monotonic()


def progress(line: str) -> None:
    """A line on stderr with the time since the bench began, so seven minutes are not silent."""
    print(f"{time.monotonic() - STARTED:6.0f} s  {line}", file=sys.stderr, flush=True)


def _rounds(figures: dict[str, Any]) -> str:
    """How many rounds a median was taken of (runs before 2026-12-05 measured once)."""
    return f" (median of {len(figures['rounds'])} rounds)" if len(figures.get("rounds", [])) > 1 else ""


def _throughput(r: dict[str, Any]) -> str:
    t = r["throughput"]
    return (
        f"{t['ours_transitions_per_s']}/s, bare {t['bare_workflows_per_s']}/s: "
        f"{t['throughput_ratio_ours_to_bare']}x{_rounds(t)}"
    )


def _cpu(r: dict[str, Any]) -> str:
    t = r["throughput"]
    return (
        f"worker {t['worker_cpu_s_per_transition']} s, server {t['server_cpu_s_per_transition']} s "
        f"(bare {t['bare_worker_cpu_s_per_workflow']}, {t['bare_server_cpu_s_per_workflow']})"
    )


def _latency(r: dict[str, Any]) -> str:
    ours, bare = r["latency"]["ours"], r["latency"]["bare"]
    said = (
        f"p50 {ours['p50_ms']} / p95 {ours.get('p95_ms', '-')} / p99 {ours['p99_ms']} ms, bare {bare['p50_ms']} / "
        f"{bare.get('p95_ms', '-')} / {bare['p99_ms']}: "
        + " / ".join(f"{r['latency'].get(f'{p}_ratio_ours_to_bare', '-')}x" for p in ("p50", "p95", "p99"))
        + _rounds(r["latency"])
    )
    if "update_p99_ms" in ours:  # the update alone (runs before 2026-12-05 did not part it from the query)
        said += f"; update alone p99 {ours['update_p99_ms']}, bare {bare.get('update_p99_ms', '-')} ms"
    return said


def _cli(r: dict[str, Any]) -> str:
    return f"{r['cli_cold']['bpo_status_median_s']} s median"


def _history(r: dict[str, Any]) -> str:
    h = r["history"]
    return f"{h['reference_to_steady_state_events']} events, {h['reference_to_steady_state_kb']} KB"


def _steady(r: dict[str, Any]) -> str:
    sim = r["simulation"]
    return f"{sim.get('steady_events_per_year', '?')} events, {sim.get('steady_kb_per_year', '?')} KB"


def _simulation(r: dict[str, Any]) -> str:
    sim = r["simulation"]
    return f"{sim['simulated_seconds']} s driven, {sim['runs']} runs"


def _replay(r: dict[str, Any]) -> str:
    return f"{r['replay']['events']} events in {r['replay']['seconds']} s"


def _scale(r: dict[str, Any]) -> str:
    s = r["scale"]
    return (
        f"{s['open_transitions']}: worker {s['worker_rss_mb']} MB, server {s['server_rss_mb']} MB, "
        f"p50 {s['decision_latency']['p50_ms']} / p99 {s['decision_latency']['p99_ms']} ms"
    )


def _program(r: dict[str, Any]) -> str:
    p = r["program"]
    return (
        f"{p['workstreams']} workstreams: program {p['program_events']} events, a workstream "
        f"{p['workstream_events_mean']} on average; "
        f"p50 {p['workstream_p50_ms']} ms on a workstream, {p['plain_p50_ms']} ms on a plain transition"
    )


def _programs(r: dict[str, Any]) -> str:
    p = r["programs"]
    opened = "" if p["all_open"] else f" ({p['programs_not_open']} never opened)"
    return (
        f"{p['programs']} x {p['workstreams_each']}{opened} in {p['open_seconds']} s: worker "
        f"{p['worker_rss_mb_before']} -> {p['worker_rss_mb_open']} MB, server {p['server_rss_mb']} MB, "
        f"p50 {p['decision_latency']['p50_ms']} / p99 {p['decision_latency']['p99_ms']} ms"
    )


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("throughput, ours/bare (target >= 0.8x)", _throughput),
    ("  CPU per transition", _cpu),
    ("decision round trip (targets 1.2x / 1.5x / 2x)", _latency),
    ("bpo status, cold (target <= 0.5 s)", _cli),
    ("reference plan to steady state", _history),
    ("steady-state year (target <= 250 KB)", _steady),
    ("simulation, 3 years", _simulation),
    ("replay of the corpus", _replay),
    ("open transitions (target p99 < 250 ms, < 1 GB)", _scale),
    ("a program to steady state", _program),
    ("programs open at once", _programs),
]


def _cell(fmt: Callable[[dict[str, Any]], str], r: dict[str, Any]) -> str:
    try:
        return fmt(r)
    except (KeyError, TypeError):
        return "-"


def print_table(r: dict[str, Any], before: dict[str, Any]) -> None:
    """The run's figures, a row per measure, with the previous run's beside them."""
    rows = [(name, _cell(fmt, r), _cell(fmt, before)) for name, fmt in ROWS]
    rows = [row for row in rows if row[1] != "-"]
    was = before.get("machine", {}).get("at", "no earlier run")
    rows.insert(0, ("", f"this run ({r['machine']['at']})", f"the previous ({was})"))
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    print(
        f"\nbpo-transition benchmarks, {r['machine']['cores']} cores, server sync "
        f"{r['machine']['server_sync']} (took {r['machine']['bench_seconds']} s)"
    )
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
