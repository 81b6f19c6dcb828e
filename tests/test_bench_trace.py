"""`python -m bench.trace`: a decision's parts from the spans, and what ran beside it."""

from __future__ import annotations

from typing import Any

from bench.trace import summary

MS = 1_000_000


def span(name: str, start: float, end: float, *, parent: str | None = None, sid: str = "", **attributes: Any) -> dict:
    return {
        "name": name,
        "process": "test",
        "trace": "t",
        "span": sid or f"{name}-{start}",
        "parent": parent,
        "start_ns": int(start * MS),
        "end_ns": int(end * MS),
        "attributes": attributes,
    }


def decision(n: int, start: float, took: float, workflow: str) -> list[dict]:
    """A decision: its update (the handler at a third of it) then its query, 3 ms each on the worker."""
    d = f"d{n}"
    update_end = start + took * 2 / 3
    return [
        span("decision", start, start + took, sid=d, kind="ours", workflow_id=workflow),
        span("StartWorkflowUpdate:approve", start, update_end, parent=d),
        span("handler:approve", start + took / 3, start + took / 3 + 3, temporalWorkflowID=workflow),
        span("QueryWorkflow:status", update_end, start + took, parent=d),
        span("handler:status", update_end + 1, update_end + 4, temporalWorkflowID=workflow),
    ]


def test_the_slowest_decision_is_split_into_its_parts_and_the_flush_beside_it_is_found():
    spans: list[dict] = []
    for n in range(99):  # 99 decisions of 30 ms, one after another, nothing beside them
        spans += decision(n, n * 100, 30, f"t{n % 3}")
    spans += decision(99, 10_000, 300, "t0")
    # Another transition's flush runs through the first 200 ms of the slow one; a collection, 10 ms.
    spans.append(span("RunActivity:flush_outbox", 9_950, 10_200, temporalWorkflowID="t1"))
    spans.append(span("gc", 10_250, 10_260))
    result = summary(spans)
    assert result["decisions"] == 100
    assert result["median"]["round trip"] == 30 and result["median"]["handler"] == 3
    slowest = result["slowest 1%"]
    assert slowest["round trip"] == 300 and slowest["to handler"] == 100 and slowest["answered"] == 97
    assert slowest["query"] == 100 and slowest["query handler"] == 3
    assert slowest["flush overlap"] == 200 and slowest["own flush"] == 0 and slowest["gc overlap"] == 10
    assert slowest["with a flush"] == 1 and result["all"]["with a flush"] == 1
