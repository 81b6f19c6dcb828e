"""A program's workstreams as swimlanes: one lane per workstream, its phases planned (grey)
against actual (coloured by outcome), the ``after`` dependencies drawn as arrows, and what a
workstream not yet started waits for. Self-contained SVG, like the report's timeline, so the web
app's program page and the reports can all draw it (semantics: "Workstreams").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from temporalio.client import Client

from bpo.api import BpoError, get_status
from bpo.report import COLOURS, Span, _x, axis, planned_phases
from models.plan import Plan
from models.status import TransitionStatus, WorkstreamStatus
from models.workstreams import start_phase, workstream_plan

LABEL_W, WIDTH, LANE_H = 170, 740, 46
STARTED = ("running", "paused", "completed", "cancelled")
"""States of a workstream that has a transition of its own to read."""


async def streams_of(client: Client, status: TransitionStatus) -> tuple[dict[str, TransitionStatus], list[str]]:
    """Each started workstream's own status, read side by side (by key), and the keys of those
    that could not be read now (drawn as planned only)."""
    started = [s for s in status.workstreams if s.state in STARTED]
    answers = await asyncio.gather(*(get_status(client, s.id) for s in started), return_exceptions=True)
    streams: dict[str, TransitionStatus] = {}
    unread = []
    for stream, answer in zip(started, answers, strict=True):
        if isinstance(answer, TransitionStatus):
            streams[stream.key] = answer
        elif isinstance(answer, BpoError):
            unread.append(stream.key)
        else:
            raise answer  # a bug, not a workstream away
    return streams, unread


async def drawn(
    client: Client, plan: Plan, status: TransitionStatus, now: datetime, link: Callable[[str], str] | None = None
) -> Markup | None:
    """A program's lanes drawn for a report or a pack (None for a transition without
    workstreams); a workstream that cannot be read now is drawn as planned only."""
    if not status.workstreams:
        return None
    streams, _ = await streams_of(client, status)
    return lanes_svg(lanes(plan, status, streams, now), now, link)


@dataclass
class Lane:
    """One workstream's lane: its status line in the program, its plan and its runs."""

    stream: WorkstreamStatus
    planned: list[Span]
    actual: list[Span]
    outcomes: list[str | None]
    after: dict[str, str]


def lanes(plan: Plan, status: TransitionStatus, streams: Mapping[str, TransitionStatus], now: datetime) -> list[Lane]:
    """Each workstream's lane, in the plan's order: planned from when the program plans to start
    it (its first ``workstreams`` phase, or later where it waits for another's phase), actual from
    its own status (``streams``, by key; a workstream not started has none)."""
    program = planned_phases(plan, status.started_at)
    first = start_phase(plan)
    base = program[first].start if first is not None and first < len(program) else status.started_at
    planned: dict[str, list[Span]] = {}

    def plan_of(key: str, seen: tuple[str, ...] = ()) -> list[Span]:
        if key in planned:
            return planned[key]
        stream = plan.workstream(key)
        assert stream is not None
        start = base
        for other, phase in stream.after.items():
            if other in seen or plan.workstream(other) is None:
                continue  # a ring is refused at validation; never loop on one
            end = next((s.end for s in plan_of(other, (*seen, key)) if s.label == phase), base)
            start = max(start, end)
        own = workstream_plan(plan, key).model_copy(update={"starts_on": None})
        planned[key] = planned_phases(own, start)
        return planned[key]

    found = []
    for w in status.workstreams:
        history = streams[w.key].history if w.key in streams else []
        found.append(
            Lane(
                stream=w,
                planned=plan_of(w.key),
                actual=[Span(r.phase, r.started_at, r.ended_at or now) for r in history],
                outcomes=[r.outcome for r in history],
                after=dict(plan.workstream(w.key).after) if plan.workstream(w.key) else {},  # type: ignore[union-attr]
            )
        )
    return found


def lanes_svg(rows: list[Lane], now: datetime, link: Callable[[str], str] | None = None) -> Markup:
    """The lanes drawn: each labelled with its workstream (a link, where ``link`` makes one from
    the workstream's id), planned bars above actual ones, an arrow from each phase a workstream
    waits for to where it starts, and a line at ``now``."""
    spans = [s for lane in rows for s in lane.planned + lane.actual]
    lo = min([s.start for s in spans] + [now])
    hi = max([s.end for s in spans] + [now])
    height = LANE_H * len(rows) + 30
    # An image's children are hidden from assistive technology: with links in it, a group instead.
    role = "img" if link is None else "group"
    parts = [
        f'<svg class="lanes" viewBox="0 0 {LABEL_W + WIDTH + 10} {height}" role="{role}" '
        f'aria-label="Workstreams as swimlanes, planned against actual">'
    ]
    where = {lane.stream.key: i for i, lane in enumerate(rows)}
    for i, lane in enumerate(rows):
        y = i * LANE_H + 4
        parts += _lane(lane, y, lo, hi, now, link)
    for i, lane in enumerate(rows):
        for other, phase in lane.after.items():
            if other in where:
                parts.append(_arrow(rows[where[other]], where[other], phase, lane, i, lo, hi))
    x_now = LABEL_W + _x(now, lo, hi, WIDTH)
    parts.append(f'<line x1="{x_now}" x2="{x_now}" y1="0" y2="{height - 24}" stroke="#9b1c1c" stroke-dasharray="3 3"/>')
    parts += axis(lo, hi, LABEL_W, WIDTH, height - 8, ticks=3)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above went through escape()


def _lane(
    lane: Lane, y: int, lo: datetime, hi: datetime, now: datetime, link: Callable[[str], str] | None
) -> list[str]:
    w = lane.stream
    label = f'<text x="0" y="{y + 16}" font-size="13">{escape(w.name)}</text>'
    if link is not None:
        label = f'<a href="{escape(link(w.id))}">{label}</a>'
    state = w.state if w.state not in ("running", "paused") else f"{w.state}, {w.health.replace('_', ' ')}"
    parts = [label, f'<text x="0" y="{y + 31}" font-size="10" fill="#666">{escape(w.key)}: {escape(state)}</text>']
    for span in lane.planned:
        x0, x1 = _x(span.start, lo, hi, WIDTH), _x(span.end, lo, hi, WIDTH)
        parts.append(
            f'<rect x="{LABEL_W + x0}" y="{y}" width="{max(x1 - x0 - 1, 2)}" height="14" fill="#bdbdbd">'
            f"<title>{escape(w.key)}: {escape(span.label)} planned {span.start:%Y-%m-%d} to {span.end:%Y-%m-%d}"
            f"</title></rect>"
        )
        fits = int((x1 - x0 - 4) // 5)  # about 5 units a letter at this size: a label stays in its bar
        if fits >= 3:
            text = span.label if len(span.label) <= fits else span.label[: fits - 1] + "…"
            parts.append(f'<text x="{LABEL_W + x0 + 2}" y="{y + 11}" font-size="9">{escape(text)}</text>')
    for span, outcome in zip(lane.actual, lane.outcomes):
        x0, x1 = _x(span.start, lo, hi, WIDTH), _x(span.end, lo, hi, WIDTH)
        parts.append(
            f'<rect x="{LABEL_W + x0}" y="{y + 17}" width="{max(x1 - x0, 2)}" height="12" '
            f'fill="{COLOURS.get(outcome, COLOURS[None])}"><title>{escape(w.key)}: {escape(span.label)} '
            f"{span.start:%Y-%m-%d} to {span.end:%Y-%m-%d} ({outcome or 'under way'})</title></rect>"
        )
    if w.waiting and lane.planned:
        x0 = _x(lane.planned[0].start, lo, hi, WIDTH)
        parts.append(f'<text x="{LABEL_W + x0}" y="{y + 27}" font-size="10" fill="#5c4000">{escape(w.waiting)}</text>')
    return parts


def _arrow(source: Lane, si: int, phase: str, target: Lane, ti: int, lo: datetime, hi: datetime) -> str:
    """An arrow from the end of ``phase`` in ``source``'s lane (as run, else as planned) to where
    ``target`` starts (as run, else as planned)."""
    ran = [s.end for s, o in zip(source.actual, source.outcomes) if s.label == phase and o == "passed"]
    planned = [s.end for s in source.planned if s.label == phase]
    start = target.actual[0].start if target.actual else target.planned[0].start if target.planned else None
    ends = ran or planned
    if start is None or not ends:
        return ""
    x0, x1 = LABEL_W + _x(ends[-1], lo, hi, WIDTH), LABEL_W + _x(start, lo, hi, WIDTH)
    y0, y1 = si * LANE_H + 4 + 29, ti * LANE_H + 4
    return (
        f'<path d="M{x0},{y0} C{x0},{(y0 + y1) / 2} {x1},{(y0 + y1) / 2} {x1},{y1}" fill="none" stroke="#0b5cad" '
        f'stroke-width="1.5"><title>{escape(target.stream.key)} starts after {escape(source.stream.key)} passes '
        f'{escape(phase)}</title></path><polygon points="{x1 - 4},{y1 - 6} {x1 + 4},{y1 - 6} {x1},{y1}" fill="#0b5cad"/>'
    )
