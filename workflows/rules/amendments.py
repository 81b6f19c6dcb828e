"""Changing a running transition: a new version of its plan, proposed, then approved by an
executive sponsor as the gate ``amendment_N``.

A proposal may change whatever lies ahead (people, KPIs, phases and gates ahead, due dates,
channels, ladders) but not the client, nor a phase already passed, nor a gate of the phase under
way that was already decided or has sign-offs; it must keep an executive sponsor. Until the approval the
transition runs on the plan it has; on it, on the new version, from its current point.
"""

from __future__ import annotations

import re
from datetime import datetime

from models.boundary import boundary_check
from models.commands import Amend, Approve, Reject
from models.durations import format_span
from models.messages import Amendment
from models.plan import CONTROL_ROLES, Plan
from models.plan_checks import AMENDMENT_PREFIX, cross_check, reserved_names
from models.workstreams import MAX_PROGRAM_ID, phases_of, workstream_plan
from workflows.rules import texts
from workflows.rules.clock import View
from workflows.rules.gates import open_gate
from workflows.rules.lookups import person, require_role
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import AMENDMENT_KEEPS_CLIENT, AMENDMENT_KEEPS_CURRENCY, AMENDMENT_NAMES_KEPT

KEY = re.compile(rf"^{AMENDMENT_PREFIX}([1-9][0-9]*)$")
NOTIFIED = ["executive_sponsor", "program_manager", "point_of_contact"]


def is_amendment(gate: str) -> bool:
    """Whether ``gate`` names an amendment (``amendment_2``) rather than a gate of the plan."""
    return bool(KEY.match(gate))


def changes(old: Plan, new: Plan, every_key: bool = True) -> list[str]:
    """What a new version changes, as a person reads it; before `AMENDMENT_KEEPS_CLIENT`
    (``every_key`` false) some of the plan's keys went unseen, such as its feeds."""
    found: list[str] = []

    def keyed(what: str, a: list, b: list, attr: str) -> None:  # type: ignore[type-arg]
        before, after = {getattr(x, attr): x for x in a}, {getattr(x, attr): x for x in b}
        found.extend(f"{what} {k} added" for k in after if k not in before)
        found.extend(f"{what} {k} removed" for k in before if k not in after)
        found.extend(f"{what} {k} changed" for k in after if k in before and after[k] != before[k])

    keyed("person", old.people, new.people, "id")
    keyed("KPI", old.kpis, new.kpis, "key")
    keyed("workstream", old.workstreams, new.workstreams, "key")
    found.extend(f"phase {p.key} added" for p in new.phases if old.phase_index(p.key) is None)
    found.extend(f"phase {p.key} removed" for p in old.phases if new.phase_index(p.key) is None)
    for phase in new.phases:
        was = next((p for p in old.phases if p.key == phase.key), None)
        if was is not None and was != phase:
            start = len(found)
            if was.due != phase.due:
                before, after = (format_span(d) if d else "none" for d in (was.due, phase.due))
                found.append(f"phase {phase.key}: due {before} -> {after}")
            keyed(f"phase {phase.key}: gate", was.gates, phase.gates, "key")
            if len(found) == start:
                found.append(f"phase {phase.key}: other settings changed")
    named = ("notifications", "escalation", "objectives", "service_credits", "steady_state", "calendar")
    said = {"people", "kpis", "phases", "workstreams", *named}
    rest = [k for k in Plan.model_fields if k not in said] if every_key else []
    for name in (*named, *rest):
        if getattr(old, name) != getattr(new, name):
            found.append(f"{name} changed")
    return list(dict.fromkeys(found))


def check_proposal(v: View, command: Amend) -> None:
    """Refuse a proposal that changes what is behind, the client, or nothing; drops the last
    sponsor; or crosses the boundary (a mail server, a setting, a token or a database of its own)."""
    require_role(v, command.by, CONTROL_ROLES, "propose an amendment")
    old, new, i = v.plan, command.plan, v.state.phase_index
    keeps_client = v.changed(AMENDMENT_KEEPS_CLIENT)  # asked of every proposal, so every history records it
    if keeps_client and new.client != old.client:
        raise Refused(
            f"an amendment may not change client ('{old.client}' to '{new.client}'): the connections a plan "
            "may use are open to its client; start a new transition for another client",
            RefusalKind.BAD_PLAN,
        )
    if v.changed(AMENDMENT_KEEPS_CURRENCY):  # asked of every proposal, so every history records it
        keeps_currency(v, new)
    if not any("executive_sponsor" in p.roles for p in new.people):
        raise Refused("the new plan has no executive sponsor; someone must approve what comes", RefusalKind.NO_SPONSOR)
    found = cross_check(new) + (boundary_check(new, None) if keeps_client else [])
    if v.changed(AMENDMENT_NAMES_KEPT):  # asked of every proposal, so every history records it
        found += reserved_names(new, {g.key for p in old.phases for g in p.gates})
    problems = [f"{'.'.join(map(str, path))}: {message}" for path, message in found]
    if problems:
        raise Refused("the new plan does not hold together: " + "; ".join(problems[:5]), RefusalKind.BAD_PLAN)
    for passed in old.phases[: min(i, len(old.phases))]:
        if next((p for p in new.phases if p.key == passed.key), None) != passed:
            raise Refused(
                f"phase '{passed.key}' has passed; an amendment may not change or remove it", RefusalKind.BEHIND
            )
    if i < len(old.phases):
        keys = [p.key for p in new.phases]
        if old.phases[i].key not in keys or keys.index(old.phases[i].key) != i:
            raise Refused(f"phase '{old.phases[i].key}' is under way; it must stay where it is", RefusalKind.BEHIND)
        phase = new.phases[i]
        for gate in v.state.gates:
            touched = gate.status != "open" or gate.approvals or gate.ticks or gate.readings or gate.scores
            spec = phase.gate(gate.key)
            if touched and (spec is None or spec.kind != gate.kind):
                raise Refused(
                    f"gate '{gate.key}' is already decided or signed; it must stay as it is", RefusalKind.BEHIND
                )
    check_workstreams(v, new)
    if not changes(old, new, keeps_client):
        raise Refused("the new plan changes nothing", RefusalKind.NO_CHANGE)


def keeps_currency(v: View, new: Plan) -> None:
    """Once costs are recorded, the business case they are recorded in stays, in its currency:
    the costs carry no currency of their own, so a new one would relabel them."""
    old = v.plan.business_case
    if not v.state.cost_totals or old is None:
        return
    spent = sum(v.state.cost_totals.values())
    if new.business_case is None:
        raise Refused(
            f"business_case: {spent:,.2f} {old.currency} of costs are recorded against it; "
            "an amendment may not remove it",
            RefusalKind.BAD_PLAN,
        )
    if new.business_case.currency != old.currency:
        raise Refused(
            f"business_case.currency: {spent:,.2f} {old.currency} of costs are recorded in it; an amendment "
            f"may not change it to {new.business_case.currency}, which would count them as {new.business_case.currency}",
            RefusalKind.BAD_PLAN,
        )


def check_workstreams(v: View, new: Plan) -> None:
    """A program's amendment may add a workstream or change one not yet started, but a started one
    runs its own plan: it stays, with the same phases and scope. A workstream's own amendment
    may not make it a program."""
    if v.state.program is not None and (new.workstreams or new.workstream_phases):
        raise Refused("a workstream cannot have workstreams of its own; amend its program", RefusalKind.BAD_PLAN)
    if v.state.program is not None:  # its program may wait for any of its phases (after:, passed:)
        gone = [p.key for p in v.plan.phases if new.phase_index(p.key) is None]
        if gone:
            raise Refused(
                f"phase '{gone[0]}' of a workstream may be changed but not removed: its program may wait for it",
                RefusalKind.BEHIND,
            )
    if new.workstreams and len(v.state.id) > MAX_PROGRAM_ID:
        raise Refused(
            f"a program's id has at most {MAX_PROGRAM_ID} characters, and this transition's has {len(v.state.id)}: "
            "start the program as a transition of its own",
            RefusalKind.BAD_PLAN,
        )
    for key, record in v.state.workstreams.items():
        if record.state == "waiting":
            continue
        if new.workstream(key) is None:
            raise Refused(f"workstream '{key}' has started; an amendment may not remove it", RefusalKind.BEHIND)
        if (phases_of(new, key), workstream_plan(new, key).scope) != (
            phases_of(v.plan, key),
            workstream_plan(v.plan, key).scope,
        ):
            raise Refused(
                f"workstream '{key}' has started and runs its own plan; amend it there (bpo amend {v.state.id}/{key})",
                RefusalKind.BEHIND,
            )


def check_decision(v: View, command: Approve | Reject) -> None:
    """Only an executive sponsor approves or rejects an amendment still proposed."""
    m = KEY.match(command.gate)
    assert m is not None
    found = next((a for a in v.state.amendments if a.number == int(m.group(1))), None)
    if found is None:
        known = ", ".join(f"amendment_{a.number}" for a in v.state.amendments) or "none"
        raise Refused(f"no {command.gate} has been proposed; amendments: {known}", RefusalKind.UNKNOWN_GATE)
    if found.status != "proposed":
        raise Refused(f"{command.gate} was {found.status} by {found.decided_by}", RefusalKind.GATE_NOT_OPEN)
    # asked of every decision, so every history records it; a proposal may predate the first cost
    if v.changed(AMENDMENT_KEEPS_CURRENCY) and isinstance(command, Approve) and found.plan is not None:
        keeps_currency(v, found.plan)
    me = person(v, command.by)
    if "executive_sponsor" not in me.roles:
        raise Refused(
            f"{me.id} may not decide {command.gate}: an executive sponsor decides amendments", RefusalKind.NOT_ALLOWED
        )


def propose(m: Recorder, command: Amend, now: datetime) -> None:
    """Keep the proposal as ``amendment_N`` and tell the sponsors."""
    number = len(m.state.amendments) + 1
    found = changes(m.plan, command.plan, m.changed(AMENDMENT_KEEPS_CLIENT))
    amendment = Amendment(number=number, plan=command.plan, by=command.by, reason=command.reason, at=now, changes=found)
    m.state.amendments = [*m.state.amendments, amendment]
    detail = {"amendment": number, "changes": found}
    m.decided("amendment_proposed", f"amendment_{number}", command, now, command.reason, detail)
    m.notify("amendment_proposed", texts.amendment_proposed(m.plan, amendment), NOTIFIED, now, detail)


def decide(m: Recorder, command: Approve | Reject, now: datetime) -> None:
    """Approve (the transition runs on the new version from now) or reject an amendment."""
    number = int(KEY.match(command.gate).group(1))  # type: ignore[union-attr]
    amendment = next(a for a in m.state.amendments if a.number == number)
    approved = isinstance(command, Approve)
    kept = amendment.model_copy(
        update={
            "status": "approved" if approved else "rejected",
            "decided_by": command.by,
            "decided_at": now,
            "plan": None,  # the approved version travels as the plan itself; a rejected one is gone
        }
    )
    m.state.amendments = [kept if a.number == number else a for a in m.state.amendments]
    note = command.note if isinstance(command, Approve) else command.reason
    m.decided("amendment_approved" if approved else "amendment_rejected", command.gate, command, now, note)
    if approved and amendment.plan is not None:
        rebase(m, amendment.plan)
    m.notify("amendment_decided", texts.amendment_decided(m.plan, kept), NOTIFIED, now, {"amendment": number})


def rebase(m: Recorder, plan: Plan) -> None:
    """Run on ``plan`` from the current point: its roster, and the phase under way's gates (those
    already under way kept as they stand, new ones opened)."""
    m.plan = plan
    s = m.state
    s.people = list(plan.people)
    phase = m.phase
    if phase is not None:
        existing = {g.key: g for g in s.gates}
        s.gates = [existing.get(spec.key) or open_gate(m, spec) for spec in phase.gates]
        s.wave_index = min(s.wave_index, len(phase.waves) - 1) if phase.waves else 0
