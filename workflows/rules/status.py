"""Where a transition stands, for `bpo status`, update answers and the Temporal Web UI."""

from __future__ import annotations

from datetime import datetime

from models.durations import BusinessTime
from models.names import STEADY_STATE_NAME
from models.signing import fingerprint
from models.status import TransitionStatus
from workflows.rules import deadlines, delegation, objectives, program, texts, value
from workflows.rules.clock import View
from workflows.rules.gates import gate_status


def status(v: View, now: datetime, brief: bool = False) -> TransitionStatus:
    """Where the transition stands at ``now``; ``brief`` leaves out the decision log and the
    settlements, which an update's answer need not repeat into the history every time."""
    s, phase = v.state, v.phase
    waves = phase.waves if phase else None
    running = s.state == "running"
    business_due = phase and isinstance(phase.due, BusinessTime) and v.deadline(v.phase_start(), phase.due)
    min_duration = phase.min_duration if phase and running else None
    settlements = s.ledger.settlements if s.ledger else []
    return TransitionStatus(
        id=s.id,
        name=v.plan.name,
        client=v.plan.client,
        provider=v.plan.provider,
        state=s.state,
        phase=v.phase_key,
        phase_name=phase.name if phase else STEADY_STATE_NAME,
        phase_number=s.phase_index + 1,
        phases_total=len(v.plan.phases),
        health=program.health(v),
        wave=s.wave_index + 1 if waves else None,
        wave_size=waves[s.wave_index] if waves else None,
        waves=len(waves) if waves else None,
        wave_share=texts.wave_share(v.plan, waves[s.wave_index]).removeprefix(": ") or None if waves else None,
        reworks=sum(s.reworks.values()),
        gates=[gate_status(v, g).model_copy(update={"due_at": deadlines.gate_due_at(v, g, now)}) for g in s.gates],
        escalations=[e for e in s.escalations if e.phase == v.phase_key and e.attempt == s.attempt],
        started_at=s.started_at,
        phase_started_at=s.phase_started_at,
        phase_due_at=v.phase_due(now) if running else None,
        earliest_pass_at=v.when(v.deadline(v.phase_start(), min_duration), now) if min_duration else None,
        timezone=v.plan.calendar.timezone if v.plan.calendar else None,
        business_left=deadlines.left_text(v, business_due, v.left(business_due, now)) if business_due else None,
        paused_seconds=s.paused_seconds + ((now - s.paused_since).total_seconds() if s.paused_since else 0.0),
        paused_since=s.paused_since,
        pause_reason=s.pause_reason,
        ended_at=s.ended_at,
        end_reason=s.end_reason,
        history=s.phases,
        decisions=[] if brief else s.decisions[-50:],
        metrics=[k.key for k in v.plan.kpis],
        settlements=settlements[-1:] if brief else settlements,
        year_to_date=year_to_date(v),
        runs=s.runs,
        first_run_id=s.first_run_id,
        trusted_keys=[fingerprint(k) for k in s.trusted_keys],
        started_by=s.started_by,
        delegations=delegation.active(v, now),
        notices_pending=len(s.pending) + len(s.trying),
        notices_failed=len(s.failed),
        raid=sorted(s.raid, key=lambda i: i.closed_at is not None),
        objectives=[objectives.status(v, o, now) for o in v.plan.objectives],
        amendments=[a.model_copy(update={"plan": None}) for a in s.amendments],
        feeds=s.feeds,
        audit_head=s.audit_head,
        program=s.program.program if s.program else None,
        workstreams=program.statuses(v) if v.plan.workstreams else [],
        value=None if brief else value.value(v, now),
    )


def year_to_date(v: View) -> dict[str, float]:
    """In steady state, the credits and bonuses settled so far in the current contract year."""
    ledger = v.state.ledger
    if ledger is None:
        return {}
    year = v.contract_year(ledger.period)
    settled = [x for x in ledger.settlements if x.contract_year == year]
    return {
        "contract_year": year,
        "credit": round(sum(x.credit for x in settled), 2),
        "bonus": round(sum(x.bonus for x in settled), 2),
    }


def details(v: View, now: datetime) -> str:
    """A short Markdown summary for the Temporal Web UI: phase, health, what each gate waits on."""
    st = status(v, now, brief=True)  # it shows no decisions, settlements or value
    wave = f" · wave {st.wave}/{st.waves} ({st.wave_size:g}%)" if st.wave else ""
    lines = [
        f"**{st.phase_name}** (phase {st.phase_number}/{st.phases_total}){wave} · "
        f"health **{st.health}** · {st.state}" + (f" ({st.pause_reason})" if st.pause_reason else ""),
        "",
    ]
    for gate in st.gates:
        waits = f" — waiting for {', '.join(gate.waiting_for)}" if gate.waiting_for else ""
        lines.append(f"- `{gate.key}` ({gate.kind}): {gate.status}, {gate.progress}{waits}")
    if st.phase_due_at:
        lines.append(f"\nDue {st.phase_due_at:%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)
