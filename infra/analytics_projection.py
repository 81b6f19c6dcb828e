"""The projector of the portfolio's analytics: each transition's trail folded into its row of
``analytics_projection`` (`models.analytics_tables`), carried on from where the row left off.

It runs off the decision's path: the web app runs it in the background and before a page, the
command line before it answers (`refresh`, `bpo.analytics.portfolio`); a decision's flush never
waits on it. A transition
is behind when its chain's head (``audit_head``) has passed the row's place; only its rows after
that place are read, and only those of the kinds the analytics take in. A row dated before what
the fold already holds (a trail written out of order) folds that transition again from its first
row. A row is written only where it still stands where the projector found it, so of two
projectors at once the one that read less never undoes the other's work. A transition whose
trail cannot be folded is logged and left behind, and every other goes on.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import orjson
import structlog
from sqlalchemy import Engine, Text, bindparam, case, cast, func, or_, update
from sqlalchemy import select as columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from infra.analytics_fold import KINDS, SHAPE, Fold, fold_of
from models.analytics import AnalyticsFilter, PlanFacts
from models.analytics_tables import AnalyticsProjection
from models.audit_events import event_of
from models.audit_events.base import Event
from models.tables import AuditHead, AuditRecord

log = structlog.get_logger(__name__)
FACT_KINDS = ("roster_changed", "amendment_approved")
"""The kinds of row after which a transition's plan facts are read again."""
BATCH = 500
"""How many transitions one pass reads the rows of, and writes, at a time."""


_projecting = threading.Lock()
"""One projector at a time in a process: a page that comes while the background round folds
waits for it, then finds little left, instead of folding the same rows beside it."""


def refresh(engine: Engine) -> int:
    """Bring every transition's row up to its chain's head; how many were behind."""
    with _projecting:
        return _refresh(engine)


def _refresh(engine: Engine) -> int:
    with Session(engine) as session:
        behind = session.exec(
            select(AuditHead.transition_id, AuditHead.position)
            .outerjoin(AnalyticsProjection, col(AnalyticsProjection.transition_id) == col(AuditHead.transition_id))
            .where(or_(
                col(AnalyticsProjection.position).is_(None),
                col(AuditHead.position) > col(AnalyticsProjection.position),
                col(AnalyticsProjection.shape) != SHAPE,
            ))
        ).all()  # fmt: skip
    heads = dict(behind)
    ids = sorted(heads)
    for start in range(0, len(ids), BATCH):
        _carry_on(engine, {tid: heads[tid] for tid in ids[start : start + BATCH]})
    if ids:
        log.info("analytics_projected", transitions=len(ids))
    return len(ids)


def stamp(engine: Engine) -> tuple[int, int, int]:
    """Where the projection stands, in one read: its rows, the sum of their places, and how many
    wait for their plan to be read. A fold changes only as its place moves, a plan's facts only
    while they are due, so figures worked out at the same stamp, with none due, are the same."""
    table = AnalyticsProjection.__table__  # type: ignore[attr-defined]
    due = func.sum(case((table.c.facts_due, 1), else_=0))
    with engine.connect() as connection:
        rows, places, waiting = connection.execute(
            columns(func.count(), func.coalesce(func.sum(table.c.position), 0), func.coalesce(due, 0))
        ).one()
    return int(rows), int(places), int(waiting)


def rows_after(ids: Iterable[str], from_start: bool = False) -> Any:
    """The statement of the rows of ``ids`` past the place each one's projection holds (or all,
    ``from_start``), of the kinds the analytics take in, in the order they happened. The place is
    joined in, so the chain's index reads each transition from there."""
    statement = select(AuditRecord).where(
        col(AuditRecord.transition_id).in_(list(ids)), col(AuditRecord.kind).in_((*KINDS, *FACT_KINDS))
    )
    if not from_start:
        projected = col(AnalyticsProjection.transition_id) == col(AuditRecord.transition_id)
        statement = statement.outerjoin(AnalyticsProjection, projected).where(
            col(AuditRecord.position) > func.coalesce(col(AnalyticsProjection.position), 0)
        )
    return statement.order_by(col(AuditRecord.transition_id), col(AuditRecord.at), col(AuditRecord.position))


def _rows(
    session: Session, ids: Iterable[str], heads: Mapping[str, int], from_start: bool = False
) -> dict[str, list[tuple[Event, str]]]:
    """The rows `rows_after` chooses up to ``heads``, as events, each with its kind."""
    found: dict[str, list[tuple[Event, str]]] = defaultdict(list)
    for row in session.exec(rows_after(ids, from_start)):
        if (row.position or 0) > heads[row.transition_id]:
            continue  # written after the head was read: the next round takes it in
        # SQLite keeps no zone, PostgreSQL answers in its session's: every time is UTC here, so a
        # month or a day is the same whatever the server's zone.
        row.at = row.at.replace(tzinfo=UTC) if row.at.tzinfo is None else row.at.astimezone(UTC)
        found[row.transition_id].append((event_of(row), row.kind))
    return found


def _carry_on(engine: Engine, heads: dict[str, int]) -> None:
    with Session(engine) as session:
        have = {
            p.transition_id: p
            for p in session.exec(select(AnalyticsProjection).where(col(AnalyticsProjection.transition_id).in_(list(heads))))
        }  # fmt: skip
        new = _rows(session, heads, heads)
        again = [tid for tid, p in have.items() if p.shape != SHAPE or not _in_order(p, new.get(tid, []))]
        if again:  # folded again from the first row: a row dated before what the fold holds, or a fold of old
            new.update(_rows(session, again, heads, from_start=True))
            log.info("analytics_refolded", transitions=len(again))
        values = []
        for tid, head in heads.items():
            kept, rows = have.get(tid), new.get(tid, [])
            try:
                fold = _carried(tid, None if tid in again else kept, rows)
                if fold is None:
                    continue  # no row the analytics take in yet
                dumped = fold.dumped()
                json.dumps(dumped, allow_nan=False)  # what the database's JSON refuses fails here, alone
            except Exception:
                log.error("analytics_fold_failed", transition_id=tid, exc_info=True)
                continue
            started = next((e.at for e, kind in rows if kind == "transition_started"), None)
            values.append({
                "transition_id": tid,
                "position": head,
                "shape": SHAPE,
                "started_at": started or (kept.started_at if kept else None),
                "fold": dumped,
                "facts_due": kept is None or kept.facts_due or any(kind in FACT_KINDS for _, kind in rows),
                "was": kept.position if kept else None,
            })  # fmt: skip
        _write(session, values)
        session.commit()


def _carried(tid: str, kept: AnalyticsProjection | None, rows: list[tuple[Event, str]]) -> Fold | None:
    """``kept``'s fold carried on with ``rows`` (none kept: the fold of ``rows`` alone, if any)."""
    if kept is None:
        return fold_of(tid, [e for e, _ in rows]) if rows else None
    fold = Fold.loaded(kept.fold)
    for e, _ in rows:
        fold.add(e)
    return fold


def _in_order(row: AnalyticsProjection, rows: list[tuple[Event, str]]) -> bool:
    return not rows or rows[0][0].at >= datetime.fromisoformat(row.fold["last_at"])


def _write(session: Session, values: list[dict[str, Any]]) -> None:
    """Write each row only where it still stands where this projector found it (``was``; a new
    one only if none is there): another projector that carried it on meanwhile keeps its work,
    and this one's, read from an older place, is dropped rather than written over it."""
    table = AnalyticsProjection.__table__  # type: ignore[attr-defined]
    fresh = [{k: v for k, v in row.items() if k != "was"} for row in values if row["was"] is None]
    if fresh:
        insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(table).values(fresh).on_conflict_do_nothing(index_elements=["transition_id"]))
    moved = [{**row, "tid": row["transition_id"]} for row in values if row["was"] is not None]
    if moved:
        session.execute(
            update(table)
            .where(table.c.transition_id == bindparam("tid"), table.c.position == bindparam("was"))
            .values(
                position=bindparam("position"),
                shape=bindparam("shape"),
                started_at=bindparam("started_at"),
                fold=bindparam("fold"),
                facts_due=bindparam("facts_due"),
            ),
            moved,
        )


class Projected(NamedTuple):
    """What a page reads of a transition's row (the columns alone: no object per row)."""

    transition_id: str
    position: int
    fold: dict[str, Any]
    facts: dict[str, Any] | None
    facts_due: bool


def read_projection(engine: Engine, query: AnalyticsFilter) -> list[Projected]:
    """The rows of the transitions ``query`` chooses by program and start date, and by client and
    provider where their plan is known and current (one whose plan is unknown or due to be read
    again stays: the plan, read, says)."""
    table = AnalyticsProjection.__table__  # type: ignore[attr-defined]
    # The folds and facts come as text, for orjson to read: only the projector writes them, so
    # nothing in them is beyond what it reads exactly (an integer past 64 bits it would not).
    chosen = [cast(table.c[name], Text) if name in ("fold", "facts") else table.c[name] for name in Projected._fields]
    statement = columns(*chosen).where(table.c.started_at.is_not(None))
    tid = col(AnalyticsProjection.transition_id)
    if query.program:
        statement = statement.where((tid == query.program) | tid.startswith(f"{query.program}/", autoescape=True))
    if query.since:
        statement = statement.where(
            col(AnalyticsProjection.started_at) >= datetime.combine(query.since, time(0), tzinfo=UTC)
        )
    if query.until and query.until < date.max:  # the last day a date holds has no day after it
        end = datetime.combine(query.until + timedelta(days=1), time(0), tzinfo=UTC)
        statement = statement.where(col(AnalyticsProjection.started_at) < end)
    for name in ("client", "provider"):
        if wanted := getattr(query, name):
            column = col(getattr(AnalyticsProjection, name))
            known = col(AnalyticsProjection.facts).is_not(None) & ~col(AnalyticsProjection.facts_due)
            statement = statement.where((column == wanted) | ~known)
    with engine.connect() as connection:
        return [
            Projected(tid, place, orjson.loads(fold), orjson.loads(facts) if facts else None, due)
            for tid, place, fold, facts, due in connection.execute(statement)
        ]


def read_folds(engine: Engine, query: AnalyticsFilter) -> dict[str, Fold]:
    """The folds of the transitions ``query`` chooses (`read_projection`), by id."""
    return {row.transition_id: Fold.loaded(row.fold) for row in read_projection(engine, query)}


def store_facts(engine: Engine, found: Mapping[str, tuple[int, PlanFacts | None]]) -> None:
    """Keep each transition's plan facts as read when its row stood at the place given; one read
    while a roster change or an amendment came in stays wanted."""
    with Session(engine) as session:
        for tid, (place, facts) in found.items():
            row = session.get(AnalyticsProjection, tid)
            if row is None:
                continue
            row.facts = facts.model_dump(mode="json") if facts else None
            row.client, row.provider = (facts.client, facts.provider) if facts else (None, None)
            row.facts_due = row.facts_due and row.position != place
            session.add(row)
        session.commit()
