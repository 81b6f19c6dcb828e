"""`make bench` at its smallest sizes: every measure runs to the end and writes its figures.

The full bench takes many minutes and nobody runs it on every change; this smoke run does, so a
change that breaks a measure (a renamed helper, a figure read from the wrong place) fails here
rather than on the day someone measures. The figures themselves mean nothing at these sizes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.table import MEASURES
from tests.stack import ROOT

pytestmark = pytest.mark.e2e

# Where each measure of bench.run leaves its figures, and one figure that says it got to the end.
FIGURES = {
    "throughput": ("throughput", "ours_transitions_per_s"),
    "latency": ("latency", "p50_ratio_ours_to_bare"),
    "cli": ("cli_cold", "bpo_status_median_s"),
    "history": ("history", "reference_to_steady_state_events"),
    "simulation": ("simulation", "steady_events_per_year"),
    "replay": ("replay", "events"),
    "scale": ("scale", "worker_rss_mb"),
    "program": ("program", "program_events"),
    "programs": ("programs", "worker_rss_mb_open"),
}


def bench(module: str, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())


def test_every_bench_measure_runs_to_the_end_at_its_smallest_size(tmp_path: Path):
    assert set(FIGURES) == set(MEASURES), "a new measure needs its line in FIGURES"
    results = bench("bench.run", tmp_path / "run.json")
    for measure, (key, figure) in FIGURES.items():
        assert results.get(key, {}).get(figure) is not None, f"{measure}: no {figure} in {results.get(key)}"
    # Throughput and latency report the median of their rounds (two at this size), each round
    # ours then bare, with the ratios the goals are set in.
    for measure in ("throughput", "latency"):
        assert len(results[measure]["rounds"]) == 2, results[measure]
    assert all(results["latency"][f"{p}_ratio_ours_to_bare"] > 0 for p in ("p50", "p95", "p99"))
    assert results["simulation"]["phase"] == "steady_state" and results["simulation"]["settlements"] > 0
    assert results["replay"]["histories"] == 3
    assert results["program"]["reached_steady_state"], results["program"]
    # Both programs opened, each with its two workstreams waiting on a gate, and the decisions ran.
    assert results["programs"]["all_open"] and results["programs"]["decision_latency"]["samples"] == 4


def test_the_web_bench_runs_to_the_end_at_its_smallest_size(tmp_path: Path):
    results = bench("bench.web", tmp_path / "web.json")
    # Each of the two people's inbox shows their two transitions' gates: the wait for visibility
    # ended because they arrived, not because it gave up.
    assert results["inbox_rows_each"] == 2, results
    assert results["requests"] == 4 and results["inbox_ms"]["p95"] > 0
    assert results["settled"]["inbox_ms"]["p95"] > 0, "the loads once the processes were quiet were timed"
    assert set(results["cpu_ms_per_page"]) == {"web", "server", "worker", "client"}
    assert results["after_restart_ms"]["one"] > 0, "the web app restarted and its first load was timed"


def test_the_portfolio_bench_runs_to_the_end_at_its_smallest_size(tmp_path: Path):
    results = bench("bench.analytics", tmp_path / "analytics.json")
    assert results["transitions"] == 20 and results["rows"] == 20 * results["rows_per_transition"] > 0
    for measure in ("analytics_all", "analytics_provider", "export_decisions_csv"):
        assert results[measure]["median_s"] > 0, results


def test_a_traced_latency_run_writes_the_spans_the_trace_analysis_reads(tmp_path: Path):
    spans = tmp_path / "spans.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--only", "latency", "--trace", str(spans)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    names = {(s["process"], s["name"]) for s in map(json.loads, spans.read_text().splitlines())}
    # The client's decisions and the SDK's calls, and the worker's handlers (its flushes come
    # 500 ms after a decision: a run this short may end first; tests/test_bench_trace.py reads them).
    for expected in [
        ("client", "decision"),
        ("client", "QueryWorkflow:status"),
        ("worker", "handler:record_readings"),
        ("worker", "handler:status"),
    ]:
        assert expected in names, f"no {expected} span in {sorted(names)}"
    analysed = subprocess.run(
        [sys.executable, "-m", "bench.trace", str(spans), "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert analysed.returncode == 0, analysed.stderr[-4000:]
    results = json.loads(analysed.stdout)
    # Each of the 4 decisions of each kind in each of the 2 rounds found, ours split into the
    # worker's parts.
    assert results["ours"]["decisions"] == results["bare"]["decisions"] == 8, results
    assert results["ours"]["median"]["handler"] > 0 and results["ours"]["median"]["query handler"] > 0, results
