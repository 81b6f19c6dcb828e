"""The `/analytics` page's charts: horizontal bars drawn by hand as SVG (as `bpo.report` draws
its timeline), one bar per row, a second thinner bar for a comparison (planned, p90) where there
is one. Each chart is an image with its own words; the page puts the same figures in a table
beside it, which is what a screen reader reads."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from models.analytics import Analytics

ACTUAL, OTHER, BELOW = "#1565c0", "#b0bec5", "#c62828"
"""A bar's colour, its comparison's, and a bar below zero's (a loss: its length is its size)."""
LABEL_W, BAR_W, ROW_H = 190, 300, 26


@dataclass(frozen=True)
class Bar:
    """One row of a chart: its label, its value, and what it is held against (none: nothing)."""

    label: str
    value: float
    other: float | None = None


def bars_svg(title: str, bars: list[Bar], unit: str, legend: tuple[str, str] = ("median", "")) -> Markup:
    """A bar chart of ``bars`` in ``unit``; ``legend`` names the bar and the comparison."""
    if not bars:
        return Markup("")
    top = max([abs(b.value) for b in bars] + [abs(b.other or 0) for b in bars]) or 1.0
    height = ROW_H * len(bars) + 28
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{LABEL_W + BAR_W + 70}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * ROW_H
        width = max(abs(bar.value) / top * BAR_W, 1)
        label = escape(bar.label if len(bar.label) <= 28 else bar.label[:27] + "…")
        out.append(f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end" font-size="11">{label}</text>')
        out.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="12" fill="{BELOW if bar.value < 0 else ACTUAL}">'
            f"<title>{escape(bar.label)}: {bar.value:g} {unit}</title></rect>"
        )
        out.append(f'<text x="{LABEL_W + width + 4:.1f}" y="{y + 11}" font-size="10">{bar.value:g}</text>')
        if bar.other is not None:
            other = max(abs(bar.other) / top * BAR_W, 1)
            out.append(
                f'<rect x="{LABEL_W}" y="{y + 14}" width="{other:.1f}" height="5" fill="{OTHER}">'
                f"<title>{escape(bar.label)}: {escape(legend[1])} {bar.other:g} {unit}</title></rect>"
            )
    y = height - 8
    out.append(f'<rect x="{LABEL_W}" y="{y - 8}" width="10" height="8" fill="{ACTUAL}"/>')
    out.append(f'<text x="{LABEL_W + 14}" y="{y}" font-size="10">{escape(legend[0])} ({escape(unit)})</text>')
    if legend[1]:
        out.append(f'<rect x="{LABEL_W + 130}" y="{y - 6}" width="10" height="5" fill="{OTHER}"/>')
        out.append(f'<text x="{LABEL_W + 144}" y="{y}" font-size="10">{escape(legend[1])}</text>')
    if any(b.value < 0 for b in bars):
        out.append(f'<rect x="{LABEL_W + 250}" y="{y - 8}" width="10" height="8" fill="{BELOW}"/>')
        out.append(f'<text x="{LABEL_W + 264}" y="{y}" font-size="10">below zero</text>')
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above went through escape()


def _days(hours: float | None) -> float | None:
    return None if hours is None else round(hours / 24, 1)


def charts(a: Analytics) -> dict[str, Markup]:
    """Every chart of the page, by the section it heads."""
    phases = [
        Bar(p.name, _days(p.actual.median_hours) or 0.0, _days(p.planned.median_hours))
        for p in a.phases
        if p.actual.median_hours is not None
    ]
    gates = [
        Bar(t.key, t.spread.median_hours or 0.0, t.spread.p90_hours)
        for t in a.turnaround
        if t.by == "gate" and t.spread.median_hours is not None
    ]
    waiting = [Bar(f"{w.gate} ({w.transition_id})", _days(w.waited_hours) or 0.0) for w in a.waiting[:15]]
    held = [Bar(t.transition_id, t.reworks + t.escalations + t.waivers) for t in a.transitions]
    # A loss draws as the thinnest bar; its figure, beside it, says how much.
    value = [
        Bar(f"{v.transition_id} ({s.currency})", float(s.net_to_date), float(s.planned_to_date))
        for v in a.value
        if (s := v.savings) is not None
    ]
    # Each provider's KPI: the share of readings that met the SLA in its latest month, and in the month before.
    trends = [
        Bar(f"{t.provider}: {t.name} ({t.points[-1].month})", round((t.points[-1].met_share or 0) * 100),
            round((t.points[-2].met_share or 0) * 100) if len(t.points) > 1 else None)
        for t in a.kpi_trends
        if t.points
    ]  # fmt: skip
    return {
        "trends": bars_svg(
            "Readings that met the SLA, by provider and KPI: the latest month against the one before",
            trends,
            "%",
            ("latest month", "the month before"),
        ),
        "phases": bars_svg("Phase durations in days: actual median against planned", phases, "days", ("actual median", "planned")),
        "gates": bars_svg("Gate turnaround in hours: median and 90th percentile", gates, "hours", ("median", "p90")),
        "waiting": bars_svg("Gates waiting now, longest first, in days", waiting, "days", ("waited", "")),
        "held": bars_svg("Reworks, escalations and waivers per transition", held, "count", ("together", "")),
        "value": bars_svg(
            "Net savings to date against what the business case expected by now",
            value,
            "in the case's currency",
            ("net savings", "the case by now"),
        ),
    }
