"""`bpo report`: one self-contained HTML page a steering committee would rather look at than read.

Everything is drawn inline (SVG, CSS); the page loads nothing from anywhere, so it opens from
disk. Its sources are the plan, the workflow's status and the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from markupsafe import Markup, escape

from bpo import value_text
from bpo.documents import render
from bpo.evidence_check import Pinned, pinned
from bpo.render import scored_text, who
from models.audit_events import Event, events_of
from models.audit_events.decisions import Cancelled, Decision, Paused, Resumed, Scored, Ticked
from models.audit_events.happenings import (
    Escalation,
    FeedNoData,
    Halted,
    KpiCorrected,
    KpiReading,
    RaidEscalated,
    Readings,
)
from models.commands import COMMANDS
from models.durations import BusinessTime
from models.messages import Amendment, RaidItem
from models.names import gate_name, phase_name
from models.plan import Plan
from models.status import TransitionStatus
from models.tables import AuditRecord

DECISION_KINDS = tuple(kind for command in COMMANDS for kind in command.reported)
"""The rows the decision tables show, as each command declares them."""
COLOURS = {"passed": "#2e7d32", "reworked": "#ef6c00", "cancelled": "#757575", None: "#1565c0"}


@dataclass
class Span:
    """A labelled stretch of time on the report's timeline."""

    label: str
    start: datetime
    end: datetime


def _x(moment: datetime, lo: datetime, hi: datetime, width: float) -> float:
    total = max((hi - lo).total_seconds(), 1.0)
    return round((moment - lo).total_seconds() / total * width, 1)


def axis(lo: datetime, hi: datetime, left: float, width: float, y: float, ticks: int) -> list[str]:
    """The dates under a drawing from ``lo`` to ``hi``: ``ticks`` of them, evenly spaced."""
    anchors = ["start", *["middle"] * (ticks - 2), "end"]
    moments = [lo + (hi - lo) * tick / (ticks - 1) for tick in range(ticks)]
    return [
        f'<text x="{left + _x(moment, lo, hi, width)}" y="{y}" class="axis" font-size="10" fill="#666" '
        f'text-anchor="{anchor}">{moment:%Y-%m-%d}</text>'
        for moment, anchor in zip(moments, anchors, strict=True)
    ]


def planned_phases(plan: Plan, fallback_start: datetime) -> list[Span]:
    """The baseline: phases back to back from ``starts_on``, each as long as its ``due``."""
    start = datetime.combine(plan.starts_on, time(0), tzinfo=UTC) if plan.starts_on else fallback_start
    spans = []
    for phase in plan.phases:
        length = phase.due or phase.min_duration or timedelta(days=14)
        if isinstance(length, BusinessTime) and plan.calendar:
            end = plan.calendar.add(start, length.seconds(plan.calendar.day_seconds))
        else:
            end = start + length  # type: ignore[operator]
        spans.append(Span(phase.key, start, end))
        start = end
    return spans


def pauses(trail: Sequence[AuditRecord], now: datetime) -> list[Span]:
    """Paused stretches, from the audit trail (a halt after a rejection counts too)."""
    spans, since = [], None
    for event in events_of(trail):
        if isinstance(event, (Paused, Halted)):
            since = since or event.at
        elif isinstance(event, (Resumed, Cancelled)) and since is not None:
            spans.append(Span("paused", since, event.at))
            since = None
    if since is not None:
        spans.append(Span("paused", since, now))
    return spans


PLANNED, PAUSED, TODAY = "#b0bec5", "#ffe082", "#c62828"
"""The planned bars (light grey-blue, behind the actual ones), paused stretches and the "today"
line: drawn as attributes, not classes, so the web page and the report colour them alike."""
LEGEND = (
    ("planned", PLANNED),
    ("passed", COLOURS["passed"]),
    ("under way", COLOURS[None]),
    ("reworked", COLOURS["reworked"]),
    ("paused", PAUSED),
)


def _legend(x: float) -> list[str]:
    parts = []
    for label, colour in LEGEND:
        parts.append(f'<rect x="{x}" y="4" width="12" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="13" class="legend" font-size="11">{label}</text>')
        x += 24 + 7 * len(label)
    parts.append(f'<line x1="{x}" x2="{x + 12}" y1="9" y2="9" stroke="{TODAY}" stroke-width="2"/>')
    parts.append(f'<text x="{x + 16}" y="13" class="legend" font-size="11">today</text>')
    return parts


def timeline_svg(plan: Plan, status: TransitionStatus, trail: Sequence[AuditRecord], now: datetime) -> Markup:
    """Each phase's lane, by its name: the bar planned (grey) above the bar run (coloured by
    outcome), pauses shaded, reworks marked, a red line at today and a legend; self-contained
    SVG, its text escaped here so a template takes it as it is."""
    planned = planned_phases(plan, status.started_at)
    actual = [Span(r.phase, r.started_at, r.ended_at or now) for r in status.history]
    lo = min([s.start for s in planned + actual])
    hi = max([s.end for s in planned + actual] + [now])
    keys = [p.key for p in plan.phases] + ["steady_state"]
    names = {key: phase_name(plan, key) for key in keys}
    shown = {key: name if len(name) <= 40 else name[:39] + "…" for key, name in names.items()}
    # Wide enough for the longest name at the label's 12px (about 7px a character).
    label_w = max(150, 7 * max(len(name) for name in shown.values()) + 12)
    width, row_h, top = 760, 34, 24
    height = top + row_h * len(keys) + 40
    parts = [
        f'<svg class="timeline" viewBox="0 0 {label_w + width + 10} {height}" role="img" '
        f'aria-label="Timeline of phases, planned against actual">',
        *_legend(label_w),
    ]
    for span in pauses(trail, now):
        x0, x1 = _x(span.start, lo, hi, width), _x(span.end, lo, hi, width)
        parts.append(
            f'<rect class="pause" x="{label_w + x0}" y="{top}" width="{max(x1 - x0, 2)}" height="{height - top - 30}" '
            f'fill="{PAUSED}" opacity="0.45"><title>paused {span.start:%Y-%m-%d} to {span.end:%Y-%m-%d}</title></rect>'
        )
    for i, key in enumerate(keys):
        y, name = top + i * row_h + 4, escape(names[key])
        parts.append(
            f'<text x="0" y="{y + 20}" class="label" font-size="12"><title>{name}</title>{escape(shown[key])}</text>'
        )
        for span in planned:
            if span.label == key:
                x0, x1 = _x(span.start, lo, hi, width), _x(span.end, lo, hi, width)
                parts.append(
                    f'<rect class="planned" x="{label_w + x0}" y="{y}" width="{max(x1 - x0, 2)}" height="12" '
                    f'fill="{PLANNED}"><title>{name} planned {span.start:%Y-%m-%d} to {span.end:%Y-%m-%d}</title></rect>'
                )
        for run in status.history:
            if run.phase != key:
                continue
            end = run.ended_at or now
            x0, x1 = _x(run.started_at, lo, hi, width), _x(end, lo, hi, width)
            colour = COLOURS.get(run.outcome, COLOURS[None])
            parts.append(
                f'<rect class="actual" x="{label_w + x0}" y="{y + 14}" width="{max(x1 - x0, 4)}" height="12" '
                f'fill="{colour}"><title>{name} attempt {run.attempt}: {run.started_at:%Y-%m-%d} to '
                f"{end:%Y-%m-%d} ({run.outcome or 'under way'})</title></rect>"
            )
            if run.outcome == "reworked":
                parts.append(
                    f'<text x="{label_w + x1 + 2}" y="{y + 25}" class="rework" font-size="10" fill="#ef6c00">&#8634; rework</text>'
                )
    today = label_w + _x(now, lo, hi, width)
    parts.append(
        f'<line class="today" x1="{today}" x2="{today}" y1="{top}" y2="{height - 26}" stroke="{TODAY}" '
        f'stroke-width="1.5" stroke-dasharray="4 2"><title>today, {now:%Y-%m-%d}</title></line>'
    )
    parts += axis(lo, hi, label_w, width, height - 14, ticks=5)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def kpi_chart_svg(plan: Plan, metric: str, points: Sequence[tuple[datetime, float, str]]) -> Markup:
    """One KPI's readings over time, with its SLA (red) and target (green) drawn as lines;
    self-contained SVG, its text escaped here so a template takes it as it is."""
    kpi = plan.kpi(metric)
    assert kpi is not None
    width, height, pad = 360, 180, 36
    levels = [v for _, v, _ in points] + [kpi.sla] + ([kpi.target] if kpi.target is not None else [])
    lo, hi = min(levels), max(levels)
    span = (hi - lo) or 1.0
    lo, hi = lo - span * 0.15, hi + span * 0.15

    def y(value: float) -> float:
        return round(pad / 2 + (hi - value) / (hi - lo) * (height - pad), 1)

    def x(i: int) -> float:
        return round(pad + i * (width - pad - 10) / max(len(points) - 1, 1), 1)

    parts = [
        f'<svg class="kpi-chart" data-metric="{escape(metric)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(kpi.name)} against its SLA">',
        f'<line class="sla" x1="{pad}" x2="{width - 5}" y1="{y(kpi.sla)}" y2="{y(kpi.sla)}"/>',
        f'<text class="axis" x="{width - 60}" y="{y(kpi.sla) - 3}">SLA {kpi.sla:g}</text>',
    ]
    if kpi.target is not None:
        parts += [
            f'<line class="target" x1="{pad}" x2="{width - 5}" y1="{y(kpi.target)}" y2="{y(kpi.target)}"/>',
            f'<text class="axis" x="{width - 60}" y="{y(kpi.target) - 3}">target {kpi.target:g}</text>',
        ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i)},{y(v)}" for i, (_, v, _) in enumerate(points))
    parts.append(f'<path class="trend" d="{path}"/>')
    for i, (at, value, label) in enumerate(points):
        cls = "ok" if kpi.meets_sla(value) else "miss"
        parts.append(
            f'<circle class="{cls}" cx="{x(i)}" cy="{y(value)}" r="3.5"><title>{escape(label)} '
            f"({at:%Y-%m-%d}): {value:g} {escape(kpi.unit)}</title></circle>"
        )
    parts += [
        f'<text class="axis" x="2" y="{y(hi - span * 0.15) + 4}">{hi - span * 0.15:g}</text>',
        f'<text class="axis" x="2" y="{y(lo + span * 0.15) + 4}">{lo + span * 0.15:g}</text>',
        "</svg>",
    ]
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _why(event: Event) -> str:
    note = event.note if isinstance(event, Decision) else None
    if isinstance(event, Scored):  # the scores are the decision: who scored what, with its note
        return scored_text(event.scores, event.evidence, event.acting_for) + (f"; {note}" if note else "")
    item = event.item if isinstance(event, Ticked) else None
    return str(note) if note else (f"item {item}" if item else "")


def _decided(amendment: Amendment) -> str:
    if amendment.decided_at is None:
        return "awaiting an executive sponsor"
    return f"{amendment.status} by {amendment.decided_by} on {amendment.decided_at:%Y-%m-%d}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _closed(item: RaidItem) -> str:
    return f"closed {item.closed_at:%Y-%m-%d} by {item.closed_by}: {item.note}" if item.closed_at else "open"


def _source(event: Readings | FeedNoData) -> str:
    if isinstance(event, FeedNoData):
        return f"no data from feed {event.feed}: {event.reason}"
    if event.via == "feed":
        return f"from feed {event.feed} · sha256 {str(event.sha256)[:12]}…"
    return f"by hand: {who(event.actor, event.via)}" + (" (correction)" if isinstance(event, KpiCorrected) else "")


def _values(event: Readings | FeedNoData) -> str:
    values = event.values if isinstance(event, Readings) else {}
    return " · ".join(f"{k} {v:g}" for k, v in values.items()) or "-"


def _escalation(plan: Plan, event: Escalation | RaidEscalated) -> tuple[str, ...]:
    if isinstance(event, Escalation):
        gates = event.open_gates or ([event.gate] if event.gate else [])
        level, about = str(event.level), ", ".join(gate_name(plan, g) for g in gates)
    else:  # a RAID item's escalation has no level of a ladder ("None", as the report always showed)
        level, about = str(None), event.item or ""
    return (f"{event.at:%Y-%m-%d %H:%M}", _phase(plan, event.phase), level, event.health or "", about)


def _phase(plan: Plan, key: str | None) -> str:
    return phase_name(plan, key) if key else ""


def _gate(plan: Plan, key: str | None) -> str:
    return gate_name(plan, key) if key else ""


def render_report(
    plan: Plan,
    status: TransitionStatus,
    trail: Sequence[AuditRecord],
    now: datetime,
    evidence: Sequence[Pinned] | None = None,
    lanes: Markup | None = None,
) -> str:
    """The whole report as one HTML document; ``evidence`` is the pinned evidence as checked
    (`bpo.evidence_check.last_verdicts`), else read from the trail unchecked; ``lanes`` a
    program's workstreams drawn (`bpo.lanes.lanes_svg`)."""
    pins = list(evidence) if evidence is not None else pinned(list(trail))
    pinned_rows = [
        (
            f"{p.at:%Y-%m-%d %H:%M}",
            _gate(plan, p.gate),
            p.by or "",
            p.evidence,
            f"{p.sha256[:16]}…",
            f"{p.size:,}",
            p.mark_when,
        )
        for p in pins
    ]
    events = events_of(trail)
    reading_rows = [
        (e.period, f"{e.at:%Y-%m-%d %H:%M}", _values(e), _source(e))
        for e in events
        if isinstance(e, (Readings, FeedNoData))
    ]
    readings: dict[str, list[tuple[datetime, float, str]]] = {}
    for event in events:
        if isinstance(event, KpiReading):
            for metric, value in event.values.items():
                readings.setdefault(metric, []).append((event.at, value, event.period))
    decisions = [
        (f"{e.at:%Y-%m-%d %H:%M}", e.kind, _phase(plan, e.phase), _gate(plan, e.gate), who(e.actor, e.via), _why(e))
        for e in events
        if e.kind in DECISION_KINDS
    ] or [
        (f"{d.at:%Y-%m-%d %H:%M}", d.kind, _phase(plan, d.phase), _gate(plan, d.gate), who(d.by, d.via), d.note or "")
        for d in status.decisions
    ]
    escalations = [_escalation(plan, e) for e in events if isinstance(e, (Escalation, RaidEscalated))]
    raid = [
        (i.id, i.kind, i.severity, i.owner, str(i.due or ""), _gate(plan, i.blocks), i.title, _closed(i))
        for i in status.raid
    ]
    versions = [
        (f"amendment_{a.number}", f"{a.at:%Y-%m-%d}", a.by, a.reason, "; ".join(a.changes), _decided(a))
        for a in status.amendments
    ]
    objectives = [(o.statement, _num(o.target), _num(o.value), str(o.due or ""), o.state) for o in status.objectives]
    settlements = [
        (
            str(s.period),
            f"{s.from_:%Y-%m-%d}",
            f"{s.to:%Y-%m-%d}",
            ", ".join(f"{k} {v}" for k, v in s.kpis.items()),
            f"{s.credit:,.2f} {s.currency}" + (" (capped)" if s.capped else ""),
            f"{s.bonus:,.2f} {s.currency}",
        )
        for s in status.settlements
    ]
    charts = [
        (f"{kpi.name} ({m})", kpi_chart_svg(plan, m, pts))
        for m, pts in readings.items()
        if (kpi := plan.kpi(m)) is not None
    ]
    wave = f" · wave {status.wave}/{status.waves}" if status.wave else ""
    position = (
        f"after all {status.phases_total} phases"
        if status.phase == "steady_state"
        else f"{status.phase_number}/{status.phases_total}"
    )
    return render(
        "report.html.j2",
        plan=plan,
        status=status,
        now=now,
        position=position,
        wave=wave,
        timeline=timeline_svg(plan, status, trail, now),
        lanes=lanes,
        charts=charts,
        readings=reading_rows,
        decisions=decisions,
        evidence=pinned_rows,
        escalations=escalations,
        versions=versions,
        objectives=objectives,
        raid=raid,
        settlements=settlements,
        **value_text.shown(status),
    )
