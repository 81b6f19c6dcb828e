"""`make bench`, the portfolio's part: `/analytics` and a year's export over a large audit table.

Starts Debian's PostgreSQL (as the tests do), and seeds ``--transitions`` transitions, each a
trail the rules wrote (the reference plan through planning and knowledge transfer into its
pilot and on, with weekly readings), copied under its own id and written through the audit writer itself
(hash chain, head, one transaction per transition). Then it times, with every transition's plan
facts given (as the page has them once read from Temporal): the analytics of the whole
portfolio and of one provider (`infra.analytics.analytics`), and the CSV export of every
decision (`infra.exports.export`). Prints one JSON document (``--json FILE`` writes it too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench.table import progress
from bpo.analytics import facts_of
from infra.analytics import analytics
from infra.audit import write_entries
from infra.db import make_engine, migrate
from infra.exports import export
from models.analytics import AnalyticsFilter
from models.commands import Note
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
    return {
        "transitions": transitions,
        "rows": transitions * len(rows),
        "rows_per_transition": len(rows),
        "seed_s": round(seeded, 1),
        "analytics_all": timed(lambda: analytics(engine, everyone, facts, now), runs),
        "analytics_provider": timed(lambda: analytics(engine, one, facts, now), runs),
        "export_decisions_csv": timed(lambda: export(engine, "decisions", None, "csv"), runs),
    }


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
