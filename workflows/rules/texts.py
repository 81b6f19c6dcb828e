"""What people are told: the subject and text of every notice the rules send.

Each function returns ``(subject, text)``. Subjects start with the client in brackets, so a
mailbox shared across transitions sorts itself.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from models.durations import BusinessTime, spoken
from models.gates import GateSpec
from models.messages import Amendment, RaidItem, Settlement
from models.names import gate_name, named
from models.plan import Kpi, Phase, Plan
from models.status import ObjectiveStatus
from workflows.rules.settlement import settlement_text

Message = tuple[str, str]


def gate_words(plan: Plan, key: str, names: bool) -> str:
    """A gate as a notice calls it: by its name (``names``, since ``NOTICE_NAMES``), else by its
    key, as the notices of a transition recorded before that change read."""
    return gate_name(plan, key) if names else key


def _gates(plan: Plan, keys: list[str], names: bool) -> list[str]:
    return [gate_words(plan, key, names) for key in keys]


def approval_requested(
    plan: Plan, phase: Phase, gate: GateSpec, what: str, name: str, due: datetime | None, *, names: bool
) -> Message:
    """A gate opened that waits on this person's decision; ``what`` they do with it is its kind's
    to say (``sign off``)."""
    if names:
        called = named(gate.key, gate.name)
        return (
            f"[{plan.client}] your decision: {called} ({phase.name})",
            f"{name}, '{plan.name}' waits on you to {what} the gate '{called}' of {phase.name}"
            + (f". The phase is due {local(plan, due)}." if due else "."),
        )
    return (
        f"[{plan.client}] your decision: {gate.key} ({phase.name})",
        f"{name}, '{plan.name}' waits on you to {what} the gate '{gate.key}' of {phase.name}"
        + (f" ({gate.name})" if gate.name else "")
        + (f". The phase is due {local(plan, due)}." if due else "."),
    )


def reminder(
    plan: Plan, phase: Phase, gate: str, name: str, number: int, due: datetime | None, *, names: bool
) -> Message:
    """A gate still waits on this person; ``number`` counts the reminders."""
    gate = gate_words(plan, gate, names)
    return (
        f"[{plan.client}] reminder: {gate} ({phase.name}) waits on you",
        f"{name}, the gate '{gate}' of {phase.name} in '{plan.name}' still waits on your decision"
        + (f" (reminder {number})" if number > 1 else "")
        + (f". The phase is due {local(plan, due)}." if due else "."),
    )


def delegated(plan: Plan, person: str, to: str, until: date) -> Message:
    """A delegation began."""
    return (
        f"[{plan.client}] {to} decides for {person} until {until:%d %b %Y}",
        f"Until the end of {until:%a %d %b %Y}, {to} may decide whatever {person} may in '{plan.name}', "
        f"and is asked and reminded for them too.",
    )


def check_in(plan: Plan, phase: Phase, number: int, health: str, waiting: list[str]) -> Message:
    """The regular check-in while a phase runs."""
    return (
        f"[{plan.client}] check-in #{number}: {phase.name}",
        f"Check-in for '{plan.name}': phase {phase.name}, health {health}. Open gates: {', '.join(waiting) or 'none'}.",
    )


def phase_started(plan: Plan, name: str, attempt: int, due: timedelta | BusinessTime | None) -> Message:
    """A phase (or steady state) begins."""
    return (
        f"[{plan.client}] {name} begins",
        f"'{plan.name}' entered {name}"
        + (f" (attempt {attempt})" if attempt > 1 else "")
        + (f", due in {due if isinstance(due, BusinessTime) else spoken(due)}" if due else "")
        + ".",
    )


def wave_started(plan: Plan, phase: Phase, wave: int, size: float, volumes: bool = False) -> Message:
    """The next wave of a phased ramp-up takes its share of the volume; ``wave`` counts from 1;
    with ``volumes``, the share is counted on the scope (a workstream's: its own)."""
    share = wave_share(plan, size) if volumes else ""
    return (
        f"[{plan.client}] {phase.name}: wave {wave} ({size:g}%) begins",
        f"Wave {wave - 1} passed its gates; wave {wave} takes {size:g}% of the volume{share}.",
    )


def wave_share(plan: Plan, size: float) -> str:
    """``: 21,000 of 42,000 contacts a month, 12 of 24 FTE`` for a wave of ``size`` percent, as far
    as the scope gives volumes and FTE."""
    volume, fte = plan.scope_totals()
    parts = [f"{volume * size / 100:,.0f} of {volume:,} contacts a month"] if volume is not None else []
    parts += [f"{fte * size / 100:g} of {fte:g} FTE"] if fte is not None else []
    return ": " + ", ".join(parts) if parts else ""


def escalation(
    plan: Plan, phase: Phase, level: int, late: timedelta, open_gates: list[str], health: str, *, names: bool
) -> Message:
    """A phase ran past its due date and reached a step of its escalation ladder."""
    open_gates = _gates(plan, open_gates, names)
    return (
        f"[{plan.client}] {phase.name} is overdue: escalation level {level}",
        f"Phase '{phase.name}' of '{plan.name}' was due {spoken(late)} ago and still waits on "
        f"{', '.join(open_gates)}. Health: {health}.",
    )


def gate_escalation(
    plan: Plan, phase: Phase, gate: str, level: int, late: timedelta, health: str, *, names: bool
) -> Message:
    """A gate ran past its own due date and reached a step of its escalation ladder."""
    gate = gate_words(plan, gate, names)
    return (
        f"[{plan.client}] {gate} ({phase.name}) is overdue: escalation level {level}",
        f"The gate '{gate}' of {phase.name} in '{plan.name}' was due {spoken(late)} ago and is still open. "
        f"Health: {health}.",
    )


def deadline_warning(
    plan: Plan, phase: Phase, gates: list[str], due: datetime | None, left: str, *, names: bool
) -> Message:
    """A phase or a gate reached its ``warn_at`` share of the time before its due date."""
    gates = _gates(plan, gates, names)
    what = f"the gate '{gates[0]}'" if len(gates) == 1 else f"the gates {', '.join(gates)}"
    return (
        f"[{plan.client}] at risk: {', '.join(gates)} ({phase.name}) due in {left}",
        f"{what[0].upper() + what[1:]} of {phase.name} in '{plan.name}' "
        f"{'is' if len(gates) == 1 else 'are'} still open with {left} left"
        + (f", due {local(plan, due)}" if due else "")
        + ". Health: at risk.",
    )


def raid_assigned(plan: Plan, item: RaidItem, *, names: bool) -> Message:
    """A RAID item was opened with this person as its owner."""
    due = f", due {item.due:%a %d %b %Y}" if item.due else ""
    blocks = gate_words(plan, item.blocks, names) if item.blocks else None
    holds = f" It holds the gate '{blocks}' until it is closed." if blocks else ""
    return (
        f"[{plan.client}] {item.id}: {item.title}",
        f"{item.opened_by} opened {item.kind} {item.id} ({item.severity}) in '{plan.name}' and made you its owner"
        f"{due}: {item.title}.{holds}",
    )


def raid_overdue(plan: Plan, item: RaidItem) -> Message:
    """An action passed its due date while still open."""
    return (
        f"[{plan.client}] overdue: {item.id} {item.title}",
        f"The action {item.id} of '{plan.name}' was due {item.due:%a %d %b %Y} and is still open: {item.title}. "
        "Close it with a note once it is done.",
    )


def raid_escalated(plan: Plan, item: RaidItem, health: str) -> Message:
    """A critical issue was raised, or an action ran late past its escalation point."""
    why = "a critical issue was raised" if item.kind == "issue" else "an action is overdue"
    return (
        f"[{plan.client}] escalated: {item.id} {item.title}",
        f"In '{plan.name}', {why}: {item.id} ({item.severity}), owned by {item.owner}: {item.title}. Health: {health}.",
    )


def objective_missed(plan: Plan, found: ObjectiveStatus) -> Message:
    """An objective's due date passed and it was not met."""
    value = "no reading" if found.value is None else f"{found.value:g}"
    return (
        f"[{plan.client}] objective missed: {found.key}",
        f"'{plan.name}' did not meet its objective by {found.due:%d %b %Y}: {found.statement} "
        f"(target {found.target if found.target is None else f'{found.target:g}'}, latest {value}).",
    )


def amendment_proposed(plan: Plan, amendment: Amendment) -> Message:
    """A new version of the plan waits for an executive sponsor's decision."""
    listed = "; ".join(amendment.changes[:12]) + (" ..." if len(amendment.changes) > 12 else "")
    return (
        f"[{plan.client}] amendment_{amendment.number} proposed: {amendment.reason[:80]}",
        f"{amendment.by} proposes a new version of '{plan.name}' ({amendment.reason}): {listed}. "
        f"An executive sponsor approves or rejects it as the gate amendment_{amendment.number}.",
    )


def amendment_decided(plan: Plan, amendment: Amendment) -> Message:
    """An amendment was approved (the transition runs on it now) or rejected."""
    what = "runs on the new version from now" if amendment.status == "approved" else "keeps the plan it has"
    return (
        f"[{plan.client}] amendment_{amendment.number} {amendment.status}",
        f"{amendment.decided_by} {amendment.status} amendment_{amendment.number} of '{plan.name}': the transition {what}.",
    )


def local(plan: Plan, moment: datetime) -> str:
    """``moment`` as the plan's people read it: in the calendar's zone, else UTC."""
    if plan.calendar is not None:
        return plan.calendar.local(moment)
    return f"{moment:%a %d %b %Y %H:%M} UTC"


def escalated_by_hand(
    plan: Plan, phase: Phase, level: int, by: str, reason: str, open_gates: list[str], health: str, *, names: bool
) -> Message:
    """Someone escalated a phase by hand."""
    open_gates = _gates(plan, open_gates, names)
    return (
        f"[{plan.client}] {phase.name} escalated to level {level} by {by}",
        f"{by} escalated phase '{phase.name}' of '{plan.name}': {reason}. "
        f"It waits on {', '.join(open_gates) or 'nothing'}. Health: {health}.",
    )


def rework(
    plan: Plan, phase: Phase, back_to: Phase, by: str, gate: str, reason: str, n: int, most: int, *, names: bool
) -> Message:
    """A rejected gate sends the transition back to an earlier phase."""
    gate = gate_words(plan, gate, names)
    return (
        f"[{plan.client}] {phase.name} rejected: back to {back_to.name}",
        f"{by} rejected '{gate}': {reason}. The transition goes back to '{back_to.name if names else back_to.key}' "
        f"(rework {n} of {most}).",
    )


def halted(plan: Plan, phase: Phase, by: str, gate: str, reason: str, why: str, *, names: bool) -> Message:
    """A rejected gate with no rework left pauses the transition."""
    gate = gate_words(plan, gate, names)
    return (
        f"[{plan.client}] {phase.name} halted: '{gate}' rejected",
        f"{by} rejected '{gate}': {reason}. As {why}, the transition is paused "
        "until someone resumes it (which reopens the gate) or cancels it.",
    )


def paused(plan: Plan, by: str, reason: str) -> Message:
    """Someone stopped the clocks."""
    return (
        f"[{plan.client}] transition paused",
        f"{by} paused '{plan.name}': {reason}. Clocks are stopped until it resumes.",
    )


def resumed(plan: Plan, by: str, paused_for: timedelta, reopened: list[str], *, names: bool) -> Message:
    """Someone started the clocks again."""
    reopened = _gates(plan, reopened, names)
    return (
        f"[{plan.client}] transition resumed",
        f"{by} resumed '{plan.name}' after {spoken(paused_for)}"
        + (f"; gates reopened: {', '.join(reopened)}" if reopened else "")
        + ".",
    )


def cancelled(plan: Plan, by: str, reason: str) -> Message:
    """Someone ended the transition."""
    return f"[{plan.client}] transition cancelled", f"{by} cancelled '{plan.name}': {reason}."


def sla_breach(plan: Plan, kpi: Kpi, value: float, label: str, period: int | None, phase: str | None = None) -> Message:
    """A reading missed its SLA: in steady state (counting toward settlement ``period``) or during
    the phase named ``phase``."""
    side = "below" if kpi.better == "higher" else "above"
    then = f"It counts toward settlement period {period}." if period else f"It came in during {phase}."
    return (
        f"[{plan.client}] SLA breach: {kpi.name} {value:g} {kpi.unit} (SLA {kpi.sla:g})",
        f"A reading of {kpi.name} for {label} is {value:g} {kpi.unit}, {side} the SLA of {kpi.sla:g}. {then}",
    )


def settlement(plan: Plan, settled: Settlement) -> Message:
    """A steady-state period was settled."""
    return (
        f"[{plan.client}] settlement for period {settled.period}: credit {settled.credit:,.2f} {settled.currency}",
        settlement_text(settled),
    )


def business_review(plan: Plan, number: int, summary: str) -> Message:
    """A quarterly business review is due."""
    return (
        f"[{plan.client}] quarterly business review #{number} is due",
        f"Time for the business review of '{plan.name}'. {summary}",
    )


def signal_refused(plan: Plan, command: str, reason: str) -> Message:
    """A command sent as a signal (no answer awaited) was refused."""
    return (
        f"[{plan.client}] your {command} was not taken",
        f"Your {command} for '{plan.name}' arrived without waiting for an answer, and was refused: {reason}. "
        "Nothing changed.",
    )


def completed(plan: Plan) -> Message:
    """Steady state reached the end of the contract."""
    return f"[{plan.client}] transition complete", f"'{plan.name}' reached the end of its contract's steady state."


def feed_no_data(plan: Plan, source: str, period: str, metrics: list[str], reason: str) -> Message:
    """A KPI feed brought nothing usable for a period: its reporters may record it by hand."""
    return (
        f"[{plan.client}] no data from feed '{source}' for {period}",
        f"The feed '{source}' gave no readings of {', '.join(metrics)} for {period} in '{plan.name}': {reason}. "
        f"It is asked again at every later pull; until it answers you may record them by hand "
        f"(bpo kpi, or the web app's KPI page).",
    )


def evidence_changed(plan: Plan, gate: str, by: str, evidence: str, *, names: bool) -> Message:
    """The evidence an approval pinned is no longer what was approved (what it says now is not
    quoted: it came from a source, not from a person)."""
    gate = gate_words(plan, gate, names)
    return (
        f"[{plan.client}] evidence changed since it was approved: {gate}",
        f"The evidence {by} approved '{gate}' with in '{plan.name}' ({evidence}) is no longer the document that "
        f"was approved: its daily check found a different file. The pinned copy is kept; look at what changed "
        f"(bpo evidence, or the transition's page) and decide whether the sign-off still holds.",
    )
