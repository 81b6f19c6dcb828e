"""A transition and its gates gathered for a page: status, plan, roster and audit trail read once
and put in the words a person reads (names, not ids; SLA met or missed)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bpo.api import audit_settled, get_plan, get_status
from bpo.evidence_check import last_verdicts, pinned
from bpo.render import scored_text, who
from bpo.report import timeline_svg
from bpo.web.deps import Web
from infra.audit import trail_of
from models.audit_events import events_of
from models.audit_events.base import Event
from models.audit_events.decisions import Approved, Rejected, Scored, Ticked, Waived
from models.audit_events.happenings import KpiReading
from models.names import named
from models.plan import Person
from models.tables import AuditRecord
from workflows.rules.kinds import KINDS, kind_of

SIGN_OFFS = (Approved, Ticked, Scored, Rejected, Waived)
"""The rows a gate's page lists as its sign-offs."""


SETTLE_FOR = 2.0
"""How long a page waits for audit entries the transition has accepted but not yet written: the
page after a decision shows it."""


async def written_first(w: Web, transition_id: str) -> None:
    """Before the transition's rows are read: what it accepted is written (`SETTLE_FOR` at most)."""
    await audit_settled(w.client, transition_id, SETTLE_FOR)


async def trail(w: Web, transition_id: str) -> list[AuditRecord]:
    """The transition's audit trail, oldest first, with what it has accepted written."""
    await written_first(w, transition_id)
    return await asyncio.to_thread(trail_of, w.engine, transition_id)


async def transition_view(w: Web, transition_id: str, people: list[Person]) -> dict[str, Any]:
    """Everything the transition page shows."""
    status, plan = await asyncio.gather(get_status(w.client, transition_id), get_plan(w.client, transition_id))
    rows = await trail(w, transition_id)
    names = {p.id: p.name for p in people}
    latest: dict[str, tuple[str, float, str | None]] = {}
    for event in events_of(rows):
        if isinstance(event, KpiReading):
            feed = str(event.feed) if event.via == "feed" else None
            for metric, reading in event.values.items():
                latest[metric] = (event.period, reading, feed)
    kpis = []
    for kpi in plan.kpis:
        period, value, feed = latest.get(kpi.key, ("", None, None))  # type: ignore[arg-type]
        met = None if value is None else kpi.meets_sla(value)
        kpis.append({"kpi": kpi, "period": period, "value": value, "met": met, "feed": feed})
    phase = next((p for p in plan.phases if p.key == status.phase), None)
    gates = []
    for g in status.gates:
        spec = phase.gate(g.key) if phase else None
        people_awaited = KINDS[g.kind].waits_on_people
        awaited = [names.get(p, p) for p in g.waiting_for] if people_awaited else g.waiting_for
        gates.append({"status": g, "name": named(g.key, spec.name if spec else None), "awaited": awaited})
    return {
        "status": status,
        "plan": plan,
        "timeline": timeline_svg(plan, status, rows, datetime.now(UTC)),
        "gates": gates,
        "kpis": kpis,
        "names": names,
        "trail": rows,
        # The last check's verdict, as kept: a page never fetches while a person waits for it.
        "evidence": await asyncio.to_thread(last_verdicts, pinned(rows), w.engine),
    }


async def gate_view(w: Web, transition_id: str, key: str, people: list[Person]) -> dict[str, Any] | None:
    """Everything a gate's page shows, or None if it is not a gate of the phase under way."""
    t = await transition_view(w, transition_id, people)
    found = next((g for g in t["gates"] if g["status"].key == key), None)
    phase = next((p for p in t["plan"].phases if p.key == t["status"].phase), None)
    spec = phase.gate(key) if phase else None
    if found is None or spec is None:
        return None
    events = [e for e in events_of(t["trail"]) if e.gate == key and e.phase == t["status"].phase]
    pins = {(p.at, p.by): p for p in t["evidence"] if p.gate == key}
    signoffs = sign_offs(events, t["names"], pins)
    kind = kind_of(spec)
    items = kind.parts(t["plan"], spec)
    ticked = {s["item"] for s in signoffs if s["kind"] == "ticked"}
    return {
        **found,
        "t": t,
        "spec": spec,
        "needs": kind.needs,
        "signoffs": signoffs,
        "items": [(i, i in ticked) for i in items],
        "roles": getattr(getattr(spec, "approvers", None), "roles", []),
    }


def sign_offs(
    events: list[Event], names: dict[Any, str], pins: dict[tuple[datetime, str | None], Any]
) -> list[dict[str, Any]]:
    """A gate's sign-offs, ticks and scorings as its page lists them, oldest first: who, when, and
    what (an item ticked, the scores given, the evidence and its pin)."""
    return [
        {
            "at": e.at,
            "kind": e.kind,
            "who": who(names.get(e.actor, e.actor), e.via),
            "note": e.note,
            "evidence": e.evidence if isinstance(e, Approved) else None,
            "item": e.item if isinstance(e, Ticked) else None,
            "pin": pins.get((e.at, e.actor)) if isinstance(e, Approved) else None,
            "scores": scored_text(e.scores, e.evidence, names.get(e.acting_for, e.acting_for))
            if isinstance(e, Scored)
            else None,
        }
        for e in events
        if isinstance(e, SIGN_OFFS)
    ]
