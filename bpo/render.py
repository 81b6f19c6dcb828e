"""How `bpo` shows things to a person: status, lists and the audit trail as plain text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bpo.value_text import value_lines
from models.calendar import zone as time_zone
from models.durations import spoken
from models.status import TransitionStatus

if TYPE_CHECKING:
    from models.messages import RaidItem
    from models.tables import AuditRecord


def when(moment: datetime | None, now: datetime | None = None, zone: str | None = None) -> str:
    """``2027-01-18 09:00 UTC (in 3d 4h)``, or in time zone ``zone`` ``2027-01-18 10:00 CET``;
    ``-`` for none."""
    if moment is None:
        return "-"
    text = local_time(moment, zone)
    if now is not None:
        delta = moment - now
        span = spoken(abs(delta))
        text += f" (in {span})" if delta >= timedelta(0) else f" ({span} ago)"
    return text


def local_time(moment: datetime, zone: str | None) -> str:
    """``moment`` in time zone ``zone`` (the plan calendar's), else in UTC."""
    if zone is None:
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return moment.astimezone(time_zone(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


CONTROLS = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7F, 0xA0)]} | {
    0x0A: "\u23ce",
    0x0D: "\\r",
    0x09: "\\t",
    0x1B: "\\e",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
"""How a control character a person or a plan wrote reads on a terminal: a newline as ``⏎``, an
escape as ``\\e``, the rest as ``\\xNN``. Written raw, a newline in a note would print a line of its
own in `trail_text` (one that reads as a decision nobody took) and an ANSI escape would rewrite
what is already on the screen."""


def plain(text: object) -> str:
    """``text`` safe to print on a terminal: its control characters shown, never obeyed."""
    return str(text).translate(CONTROLS)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, every cell `plain`."""
    cells = [[plain(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(c) for c in col) for col in zip(*cells)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def status_text(st: TransitionStatus, now: datetime) -> str:
    """``bpo status`` for a person."""
    share = f": {st.wave_share}" if st.wave_share else ""
    wave = f"   Wave {st.wave}/{st.waves} ({st.wave_size:g}%{share})" if st.wave else ""
    out = [
        f"{st.id}: {st.name}",
        f"{st.client} -> {st.provider}",
        *(
            [f"Workstream {st.id.rpartition('/')[2]} of program {st.program} (bpo status {st.program})"]
            if st.program
            else []
        ),
        "",
        f"State:   {st.state}" + (f" since {when(st.paused_since)}: {st.pause_reason}" if st.paused_since else ""),
        f"Phase:   {st.phase_number}/{st.phases_total} {st.phase_name} ({st.phase}){wave}",
        f"Health:  {st.health}   Reworks: {st.reworks}   Paused in all: {spoken(timedelta(seconds=st.paused_seconds))}",
        f"Began:   {when(st.phase_started_at, now)}",
    ]
    if st.phase_due_at:
        left = f", {st.business_left} of business time left" if st.business_left else ""
        out.append(f"Due:     {when(st.phase_due_at, now, st.timezone)}{left}")
    if st.earliest_pass_at and st.earliest_pass_at > now:
        out.append(f"Passes no earlier than {when(st.earliest_pass_at, now, st.timezone)} (min_duration)")
    if st.ended_at:
        out.append(f"Ended:   {when(st.ended_at)}: {st.end_reason}")
    if st.gates:
        out += ["", "Gates:"]
        rows = [
            (
                f"[{g.status}]",
                g.key,
                g.kind,
                g.progress,
                ("waiting for " + ", ".join(g.waiting_for)) if g.waiting_for else "",
                f"due {when(g.due_at, now, st.timezone)}" if g.due_at else "",
            )
            for g in st.gates
        ]
        out += ["  " + line for line in table(("", "gate", "kind", "progress", "", ""), rows).splitlines()[1:]]
    if st.workstreams:
        out += ["", "Workstreams:", *["  " + line for line in workstreams_text(st, now).splitlines()]]
    if st.settlements:
        last = st.settlements[-1]
        ytd = st.year_to_date
        kpis = ", ".join(f"{k} {v}" for k, v in last.kpis.items())
        out += [
            "",
            f"Last settlement: period {last.period} ({last.from_:%Y-%m-%d} to {last.to:%Y-%m-%d}): {kpis}",
            f"  credit {last.credit:,.2f} {last.currency}{' (capped)' if last.capped else ''}, "
            f"bonus {last.bonus:,.2f} {last.currency}",
            f"Contract year {ytd.get('contract_year', 1):g} so far: credits {ytd.get('credit', 0):,.2f} "
            f"{last.currency}, bonuses {ytd.get('bonus', 0):,.2f} {last.currency}",
        ]
    if st.objectives:
        out += ["", "Objectives:"]
        for o in st.objectives:
            value = "no reading" if o.value is None else f"{o.value:g}"
            target = "" if o.target is None else f" against {o.target:g}"
            due = f", due {o.due}" if o.due else ""
            baseline = "" if o.baseline is None else f" (baseline {o.baseline:g})"
            out.append(f"  [{o.state}] {o.key}: {value}{target}{baseline}{due}")
    if st.value:
        out += value_lines(st.value)
    if open_items := [i for i in st.raid if i.closed_at is None]:
        out += ["", "RAID log (open):"] + ["  " + line for line in raid_text(open_items).splitlines()]
    if st.notices_pending or st.notices_failed:
        out += ["", f"Notices: {st.notices_pending} waiting for another try, {st.notices_failed} failed (bpo notices)"]
    if st.feeds:
        out += ["", "KPI feeds (bpo feed):"]
        for name, fs in st.feeds.items():
            pulling = f", pulling {', '.join(fs.asking)}" if fs.asking else ""
            missing = f", no data yet for {', '.join(fs.missing)}" if fs.missing else ""
            problem = f" (last problem: {fs.last_problem})" if fs.last_problem else ""
            out.append(f"  {name}: next period {fs.next_period}{pulling}{missing}{problem}")
    if st.delegations:
        out += ["", "Delegations:"]
        out += [f"  {d.to} decides for {d.person} until the end of {d.until}" for d in st.delegations]
    if st.started_by or st.trusted_keys:
        keys = f"signed by {', '.join(st.trusted_keys)}" if st.trusted_keys else "unsigned (trusts no key)"
        out += ["", f"Started by {st.started_by or 'someone unnamed'}; commands {keys}"]
    if st.escalations:
        out += ["", "Escalations:"]
        for e in st.escalations:
            health = f", health {e.health}" if e.health else ""
            gate = f" ({e.gate} past its own due)" if e.gate else ""
            notified = ", ".join(e.notified) or "no one"
            out.append(f"  level {e.level}{gate} at {when(e.at, zone=st.timezone)}{health}: notified {notified}")
    return "\n".join(out)


def workstreams_text(st: TransitionStatus, now: datetime) -> str:
    """A program's workstreams, one line each: key and name, state, phase, health, next due, and
    what it waits for (the gates of one running; ``waiting for email to pass pilot`` before it starts)."""
    rows = []
    for w in st.workstreams:
        if w.waiting:
            waits = w.waiting
        elif w.state in ("running", "paused") and w.waiting_for:
            waits = "gates " + ", ".join(w.waiting_for)
        else:
            waits = ""
        rows.append(
            (
                f"{w.key} ({w.name})",
                w.state,
                w.phase or "-",
                w.health if w.state in ("running", "paused") else "-",
                f"due {when(w.next_due, now, st.timezone)}" if w.next_due else "",
                waits,
            )
        )
    return table(("workstream", "state", "phase", "health", "", ""), rows).split("\n", 1)[1]


def raid_text(items: Sequence[RaidItem]) -> str:
    """The RAID log as a table, in the order given."""
    rows = [
        (
            i.id,
            i.kind,
            i.severity,
            "closed" if i.closed_at else "open",
            i.owner,
            str(i.due or ""),
            i.blocks or "",
            i.title[:60],
        )
        for i in items
    ]
    return table(("ITEM", "KIND", "SEVERITY", "STATE", "OWNER", "DUE", "BLOCKS", "TITLE"), rows) if rows else ""


def who(actor: str | None, via: str | None) -> str:
    """Who acted and how they were known: ``li@acme.example (cli)``."""
    return f"{actor} ({via})" if actor and via else actor or ""


def scored_text(scores: dict[str, float], evidence: dict[str, str], acting_for: str | None = None) -> str:
    """A scoring as a person reads it: ``quality 4, tooling 3.5; evidence tooling: doc-1; for li``."""
    text = ", ".join(f"{criterion} {value:g}" for criterion, value in scores.items())
    if evidence:
        text += "; evidence " + ", ".join(f"{criterion}: {ref}" for criterion, ref in evidence.items())
    return text + (f"; for {acting_for}" if acting_for else "")


def trail_text(rows: Sequence[AuditRecord]) -> str:
    """The audit trail as a table."""

    def detail(row: AuditRecord) -> str:
        hidden = ("signed", "trusted_keys")  # long and for machines; --json and --verify have them
        shown = {k: v for k, v in row.detail.items() if v not in (None, [], {}, False) and k not in hidden}
        return ", ".join(f"{k}={v}" for k, v in shown.items())[:120]

    return table(
        ("at", "kind", "phase", "gate", "by", "detail"),
        [(f"{r.at:%Y-%m-%d %H:%M:%S}", r.kind, r.phase, r.gate or "", who(r.actor, r.via), detail(r)) for r in rows],
    )
