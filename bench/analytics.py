"""`make bench`, the portfolio's part: `/analytics` and a year's export over a large audit table.

Starts Debian's PostgreSQL (as the tests do), and seeds ``--transitions`` transitions, each a
trail the rules wrote (the reference plan through planning and knowledge transfer into its
pilot and on, with weekly readings), copied under its own id and written through the audit writer itself
(hash chain, head, one transaction per transition). Then it times the projector folding the
whole trail from nothing (once, as after the migration that brings the projection), then, with
every transition's plan facts given (as the page has them once read from Temporal): the
analytics of the whole portfolio and of one provider (`infra.analytics.analytics`, which first
brings the projection up to the heads: nothing to do), the same after a hundred transitions
each took one more decision (the projector carries those hundred on), the page again while the
projection stands (the web app keeps what it worked out, `bpo.analytics.Kept`), and the CSV export of every
decision (`infra.exports.export`); with PostgreSQL's plan of the projector's two queries.
Prints one JSON document (``--json FILE`` writes it too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from bench.table import progress
from bpo.analytics import Kept, facts_of, portfolio
from infra.analytics import analytics
from infra.analytics_projection import refresh, rows_after
from infra.audit import write_entries
from infra.db import make_engine, migrate
from infra.exports import export
from models.analytics import AnalyticsFilter
from models.commands import Approve, Note
from models.deliveries import AuditEntry
from tests.pg import postgres_server
from tests.rules.sim import LI, PLAN, START, Run


def template(weeks: int) -> list[AuditEntry]:
    """One transition's trail as the rules write it, under the id ``t-1``."""
    run = Run()
    run.do(Note(text="kick-off booked", by=LI))
    run.reach_pilot()
    for week in range(1, weeks + 1):
        run.read(f"W{week}", csat=80.0 + week % 12, error_rate=1.0 + (week % 5) / 2, first_response_hours=3.0)
        run.later(days=7)
    return list(run.audit)


def copies(rows: list[AuditEntry], tid: str) -> list[AuditEntry]:
    return [e.model_copy(update={"transition_id": tid, "id": e.id.replace("t-1", tid, 1)}) for e in rows]


def timed(job: Any, runs: int) -> dict[str, float]:
    """The median and the slowest of ``runs`` runs of ``job``, in seconds."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        job()
        times.append(time.perf_counter() - began)
    return {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3), "runs": runs}


def one_more(rows: list[AuditEntry], tid: str, n: int) -> AuditEntry:
    """A decision more on transition ``tid``, a day after its last row."""
    last = rows[-1]
    return AuditEntry(
        id=f"{tid}/bench/{n}", transition_id=tid, kind="approved", phase=last.phase, gate="pilot_kpis_met",
        actor=LI, at=last.at + timedelta(days=1), detail={"command": Approve(gate="pilot_kpis_met", by=LI).model_dump()},
    )  # fmt: skip


def plans(engine: Any, ids: list[str]) -> dict[str, list[str]]:
    """PostgreSQL's plans of the projector's queries: which transitions are behind their head, and
    the rows of ``ids`` past their place."""
    stale = (
        "SELECT h.transition_id, h.position FROM audit_head h LEFT OUTER JOIN analytics_projection p "
        "ON p.transition_id = h.transition_id WHERE p.position IS NULL OR h.position > p.position"
    )
    rows = str(rows_after(ids).compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        return {
            name: [line for (line,) in connection.execute(text(f"EXPLAIN {query}"))]
            for name, query in (("behind_their_head", stale), ("rows_past_their_place", rows))
        }


def measure(url: str, transitions: int, weeks: int, runs: int) -> dict[str, Any]:
    engine = make_engine(url)
    migrate(engine)
    rows = template(weeks)
    began = time.perf_counter()
    for n in range(transitions):
        with Session(engine) as session:
            write_entries(copies(rows, f"t{n:05d}"), session=session)
        if n and n % 1000 == 0:
            progress(f"seeded {n} transitions ({n * len(rows)} rows)")
    seeded = time.perf_counter() - began
    facts = {f"t{n:05d}": facts_of(PLAN, START) for n in range(transitions)}
    now = datetime.now(UTC)
    everyone = AnalyticsFilter()
    one = AnalyticsFilter(provider=PLAN.provider)
    began = time.perf_counter()
    refresh(engine)
    built = time.perf_counter() - began
    found: dict[str, Any] = {
        "transitions": transitions,
        "rows": transitions * len(rows),
        "rows_per_transition": len(rows),
        "seed_s": round(seeded, 1),
        "projection_built_s": round(built, 1),
        "analytics_all": timed(lambda: analytics(engine, everyone, facts, now), runs),
        "analytics_provider": timed(lambda: analytics(engine, one, facts, now), runs),
    }
    moved = min(100, transitions)
    rounds = iter(range(runs))

    def after_a_hundred_decisions() -> None:
        n = next(rounds)
        with Session(engine) as session:
            write_entries([one_more(rows, f"t{k:05d}", n) for k in range(moved)], session=session)
        analytics(engine, everyone, facts, now)

    found[f"analytics_all_after_{moved}_decisions"] = timed(after_a_hundred_decisions, runs)
    kept = Kept()  # the web app's: the page again while the projection stands
    asyncio.run(portfolio(engine, None, everyone, now, kept))
    found["analytics_page_kept"] = timed(lambda: asyncio.run(portfolio(engine, None, everyone, now, kept)), runs)
    found["export_decisions_csv"] = timed(lambda: export(engine, "decisions", None, "csv"), runs)
    found["query_plans"] = plans(engine, [f"t{k:05d}" for k in range(moved)])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=40, help="weekly readings per transition (its rows)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for make test")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.smoke:
        args.transitions, args.weeks, args.runs = 20, 4, 1
    with postgres_server() as url:
        found = measure(url, args.transitions, args.weeks, args.runs)
    print(json.dumps(found, indent=2))
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
