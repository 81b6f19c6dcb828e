"""`bpo qbr`: the quarter's business-review pack, one self-contained HTML page.

Objectives, KPIs against SLA with the quarter's trend, settlements with credits and bonuses,
SLA breaches, escalations, the RAID items still open, the decisions taken, and the next
quarter's dates. Drawn as the report draws (inline SVG and CSS; nothing loaded from anywhere).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from markupsafe import Markup

from bpo import value_text
from bpo.analytics import facts_of
from bpo.calendar import milestones
from bpo.documents import render
from bpo.render import who
from bpo.report import DECISION_KINDS, kpi_chart_svg
from infra.analytics_value import latest_readings, transition_value
from models.audit_events import events_of
from models.audit_events.base import Event
from models.audit_events.decisions import Decision, Delegated, Escalated, RaidAdded, RaidClosed
from models.audit_events.happenings import Escalation, RaidEscalated, Readings, SlaBreach
from models.names import gate_name, phase_name
from models.plan import Plan
from models.status import TransitionStatus
from models.tables import AuditRecord
from models.value import ValueStatus

QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter, ``2027-Q2``: from its first day to the first day of the next (UTC)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``YYYY-QN``.

        Raises:
            ValueError: with the form expected, for anything else.
        """
        m = QUARTER.match(text.strip())
        if not m:
            raise ValueError(f"'{text}' is not a quarter; write it as YYYY-QN, for example 2027-Q2")
        return cls(int(m[1]), int(m[2]))

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def start(self) -> datetime:
        """Midnight UTC of its first day."""
        return datetime.combine(date(self.year, 3 * self.number - 2, 1), time(0), tzinfo=UTC)

    @property
    def next(self) -> Quarter:
        """The quarter after it."""
        return Quarter(self.year + self.number // 4, self.number % 4 + 1)

    def holds(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in this quarter."""
        return self.start <= moment < self.next.start


def _escalation(plan: Plan, event: Escalation | Escalated | RaidEscalated) -> tuple[str, ...]:
    about = event.item if isinstance(event, RaidEscalated) else event.level
    phase = phase_name(plan, event.phase) if event.phase else ""
    return (f"{event.at:%Y-%m-%d}", phase, str(about or ""), event.health or "")


def value_at_end(
    plan: Plan, status: TransitionStatus, events: Sequence[Event], quarter: Quarter, now: datetime
) -> TransitionStatus:
    """``status`` as the pack's value section draws it: for a quarter that ended before ``now``, its
    KPIs, objectives and savings as they stood at the quarter's end (read from the trail's
    ``events``, oldest first, with the status's own arithmetic), so a pack printed later counts
    none of the costs, readings or settlements that came after; else as they stand now."""
    end = quarter.next.start
    if now < end or status.value is None:
        return status
    then = [e for e in events if e.at < end]
    live = status.value.savings.live_since if status.value.savings else None
    found = transition_value(
        status.id, then, facts_of(plan, status.started_at), live if live and live < end else None, end
    )
    latest = latest_readings(then)
    objectives = [o.model_copy(update={"value": latest.get(o.kpi)}) if o.kpi else o for o in status.objectives]
    value = ValueStatus(kpis=found.kpis, savings=found.savings) if found else None
    return status.model_copy(update={"value": value, "objectives": objectives})


def render_qbr(
    plan: Plan,
    status: TransitionStatus,
    trail: Sequence[AuditRecord],
    quarter: Quarter,
    now: datetime,
    lanes: Markup | None = None,
) -> str:
    """The pack's HTML; ``lanes`` a program's workstreams drawn (`bpo.lanes.drawn`), shown with a
    line per workstream."""
    every = events_of(trail)
    events = [e for e in every if quarter.holds(e.at)]
    settled = [s for s in status.settlements if quarter.holds(s.to)]
    currency = settled[0].currency if settled else (plan.service_credits.currency if plan.service_credits else "USD")
    credit, bonus = sum(s.credit for s in settled), sum(s.bonus for s in settled)
    readings: dict[str, list[tuple[datetime, float, str]]] = {}
    for event in events:
        if isinstance(event, Readings):
            for metric, value in event.values.items():
                readings.setdefault(metric, []).append((event.at, value, event.period))
    charts = [
        (kpi.name, kpi_chart_svg(plan, m, pts)) for m, pts in readings.items() if (kpi := plan.kpi(m)) is not None
    ]
    objectives = [
        (o.statement, "" if o.target is None else f"{o.target:g}", "" if o.value is None else f"{o.value:g}", o.state)
        for o in status.objectives
    ]
    settlements = [
        (
            str(s.period),
            f"{s.from_:%Y-%m-%d} to {s.to:%Y-%m-%d}",
            ", ".join(f"{k} {v}" for k, v in s.kpis.items()),
            f"{s.credit:,.2f}",
            f"{s.bonus:,.2f}",
        )
        for s in settled
    ]
    breaches = [(f"{e.at:%Y-%m-%d}", str(e.kpi), f"{e.value}", f"{e.sla}") for e in events if isinstance(e, SlaBreach)]
    escalations = [_escalation(plan, e) for e in events if isinstance(e, (Escalation, Escalated, RaidEscalated))]
    decisions = [
        (f"{e.at:%Y-%m-%d}", e.kind, gate_name(plan, e.gate) if e.gate else "", who(e.actor, e.via), str(e.note or ""))
        for e in events
        if isinstance(e, Decision) and (e.kind in DECISION_KINDS or isinstance(e, (RaidAdded, RaidClosed, Delegated)))
    ]
    raid = [(i.id, i.kind, i.severity, i.owner, str(i.due or ""), i.title) for i in status.raid if i.closed_at is None]
    ahead = [
        (f"{at:%Y-%m-%d}", summary) for _, summary, at, _ in milestones(plan, status, now) if quarter.next.holds(at)
    ]
    workstreams = [
        (
            f"{w.name} ({w.key})",
            w.state,
            w.phase or "",
            w.health.replace("_", " ") if w.state in ("running", "paused") else "",
            w.waiting or ", ".join(w.waiting_for),
        )
        for w in status.workstreams
    ]
    return render(
        "qbr.html.j2",
        lanes=lanes,
        workstreams=workstreams,
        plan=plan,
        status=status,
        quarter=quarter,
        now=now,
        currency=currency,
        credit=credit,
        bonus=bonus,
        charts=charts,
        objectives=objectives,
        settlements=settlements,
        breaches=breaches,
        escalations=escalations,
        raid=raid,
        decisions=decisions,
        ahead=ahead,
        **value_text.shown(value_at_end(plan, status, every, quarter, now)),
    )
