"""Where the slowest decisions' time went: `python -m bench.trace FILE` reads the spans that
`python -m bench.run --only latency --trace FILE` wrote (infra/tracing.py) and prints, for the
slowest 1% and 5% of decisions, each part of the round trip against the median decision's.

A decision is the bench's ``decision`` span (the update, then the status query); the parts:

- ``to handler``: the update sent until our update handler ran on the worker: the server, the
  worker's poll, and the worker's loop, busy with other transitions' activations, their flushes
  or a collection (the SDK's ``HandleUpdate`` span cannot split it: it carries the workflow's
  time, the last recorded event's, not the task's);
- ``handler``: the update handler itself (the rules and the status answer);
- ``answered``: the handler's end until the client had its answer: the task completed, the
  update recorded in the history, the answer sent;
- ``query``: the status query, and of it ``query handler`` on the worker;
- ``loop stalled``: how much of it the worker's loop was late by more than 2 ms (infra/tracing.py);
- ``flush overlap`` and ``gc overlap``: how much of the decision any outbox flush (of any
  transition on the worker), or a garbage collection of the worker, was running; ``own flush``:
  how much of it this transition's own flush held (its local activity holds its workflow task,
  and an update or a query that arrives meanwhile waits for it).
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

PARTS = [
    "round trip",
    "update",
    "to handler",
    "handler",
    "answered",
    "query",
    "query handler",
    "flush overlap",
    "own flush",
    "gc overlap",
    "loop stalled",
]
FLUSH, GC, STALL = "RunActivity:flush_outbox", "gc", "loop stall"


def decision(traced: bool, kind: str, workflow_id: str) -> Any:
    """The span the latency measure wraps a decision in (nothing when not traced)."""
    if not traced:
        return nullcontext()
    import opentelemetry.trace

    tracer = opentelemetry.trace.get_tracer("bpo.bench")
    return tracer.start_as_current_span("decision", attributes={"kind": kind, "workflow_id": workflow_id})


def read(path: Path) -> list[dict[str, Any]]:
    """Every span in the file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Spans:
    """The spans of one trace file, indexed for the look-ups a decision needs."""

    def __init__(self, spans: list[dict[str, Any]]) -> None:
        self.children: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.by_workflow: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.flushes: list[dict[str, Any]] = []
        self.collections: list[dict[str, Any]] = []
        self.stalls: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        for s in sorted(spans, key=lambda s: s["start_ns"]):
            if s["parent"]:
                self.children[s["parent"]].append(s)
            wid = s["attributes"].get("temporalWorkflowID")
            if wid:
                self.by_workflow[(wid, s["name"])].append(s)
            if s["name"] == FLUSH:
                self.flushes.append(s)
            elif s["name"] == GC:
                self.collections.append(s)
            elif s["name"] == STALL:
                self.stalls.append(s)
            elif s["name"] == "decision":
                self.decisions.append(s)
        self.flush_starts = [s["start_ns"] for s in self.flushes]
        self.gc_starts = [s["start_ns"] for s in self.collections]
        self.stall_starts = [s["start_ns"] for s in self.stalls]

    def child(self, span: dict[str, Any], prefix: str) -> dict[str, Any] | None:
        return next((c for c in self.children[span["span"]] if c["name"].startswith(prefix)), None)

    def within(self, wid: str, name: str, start: int, end: int) -> dict[str, Any] | None:
        """The first span ``name`` of workflow ``wid`` that starts in [start, end]."""
        return next((s for s in self.by_workflow[(wid, name)] if start <= s["start_ns"] <= end), None)

    def parts(self, d: dict[str, Any]) -> dict[str, float]:
        """One decision's parts, in milliseconds (a part the trace cannot tell is left out)."""
        ms = 1e-6
        start, end = d["start_ns"], d["end_ns"]
        wid = d["attributes"]["workflow_id"]
        out = {"round trip": (end - start) * ms}
        update, query = self.child(d, "StartWorkflowUpdate:"), self.child(d, "QueryWorkflow:")
        if update:
            u0, u1 = update["start_ns"], update["end_ns"]
            name = update["name"].split(":", 1)[1]
            out["update"] = (u1 - u0) * ms
            handler = self.within(wid, f"handler:{name}", u0, u1)
            if handler:
                out["to handler"] = (handler["start_ns"] - u0) * ms
                out["handler"] = (handler["end_ns"] - handler["start_ns"]) * ms
                out["answered"] = (u1 - handler["end_ns"]) * ms
        if query:
            out["query"] = (query["end_ns"] - query["start_ns"]) * ms
            if handler := self.within(wid, f"handler:{query['name'].split(':', 1)[1]}", query["start_ns"], end):
                out["query handler"] = (handler["end_ns"] - handler["start_ns"]) * ms
        if self.flushes or self.collections:  # the worker was traced
            flushes = list(_overlapping(self.flushes, self.flush_starts, start, end))
            out["flush overlap"] = _covered(flushes, start, end) * ms
            own = [f for f in flushes if f["attributes"].get("temporalWorkflowID") == wid]
            out["own flush"] = _covered(own, start, end) * ms
            stalls = list(_overlapping(self.stalls, self.stall_starts, start, end))
            out["loop stalled"] = _covered(stalls, start, end) * ms
            out["gc overlap"] = (
                _covered(list(_overlapping(self.collections, self.gc_starts, start, end)), start, end) * ms
            )
        return out


def _overlapping(spans: list[dict[str, Any]], starts: list[int], start: int, end: int) -> Iterator[dict[str, Any]]:
    # Flushes last well under two minutes (their timeout); collections, milliseconds.
    for s in spans[bisect.bisect_left(starts, start - 120 * 10**9) : bisect.bisect_right(starts, end)]:
        if s["end_ns"] > start:
            yield s


def _covered(spans: list[dict[str, Any]], start: int, end: int) -> int:
    """How much of [start, end] at least one of ``spans`` (sorted by start) covers."""
    total, reached = 0, start
    for s in spans:
        s0, s1 = max(s["start_ns"], reached), min(s["end_ns"], end)
        if s1 > s0:
            total += s1 - s0
            reached = s1
    return total


def summary(spans: list[dict[str, Any]], kind: str = "ours") -> dict[str, Any]:
    """The median decision's parts (the median of each), and the mean of each part over the
    slowest 5% and 1%, with how many of those overlapped a flush, their own flush or a collection."""
    index = Spans(spans)
    rows = [index.parts(d) for d in index.decisions if d["attributes"].get("kind") == kind]
    rows.sort(key=lambda r: r["round trip"])
    if not rows:
        return {"decisions": 0}
    result: dict[str, Any] = {"decisions": len(rows), "median": _each(rows, statistics.median)}
    for share in (5, 1):
        slow = rows[-max(1, len(rows) * share // 100) :]
        group = _each(slow, statistics.fmean)
        group["count"] = len(slow)
        for part, label in (("flush overlap", "with a flush"), ("own flush", "own flush"), ("gc overlap", "with a gc")):
            group[label] = sum(1 for r in slow if r.get(part, 0) > 0)
        result[f"slowest {share}%"] = group
    result["all"] = {
        label: sum(1 for r in rows if r.get(part, 0) > 0)
        for part, label in (("flush overlap", "with a flush"), ("own flush", "own flush"), ("gc overlap", "with a gc"))
    }
    return result


def _each(rows: list[dict[str, float]], how: Any) -> dict[str, float]:
    return {p: round(how([r[p] for r in rows if p in r]), 2) for p in PARTS if any(p in r for r in rows)}


def print_summary(result: dict[str, Any], kind: str) -> None:
    print(f"{kind}: {result['decisions']} decisions traced")
    if not result["decisions"]:
        return
    groups = ["median", "slowest 5%", "slowest 1%"]
    print(f"{'ms':<16}" + "".join(f"{g:>14}" for g in groups))
    for part in PARTS:
        if part in result["median"]:
            print(f"{part:<16}" + "".join(f"{result[g].get(part, float('nan')):>14.1f}" for g in groups))
    for label in ("with a flush", "own flush", "with a gc"):
        counts = "".join(f"{result[g][label]:>14}" for g in groups[1:])
        print(f"{label:<16}{result['all'][label]:>14}{counts}   (decisions)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the spans `python -m bench.run --trace FILE` wrote")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    spans = read(args.file)
    results = {kind: summary(spans, kind) for kind in ("ours", "bare")}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for kind, result in results.items():
        print_summary(result, kind)


if __name__ == "__main__":
    main()
