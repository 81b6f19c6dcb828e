"""The approval gate: passes on its approvers' sign-offs by their rule (any one, all, or a quorum),
and with ``orgs`` only once each listed side has signed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from models.commands import Approve, Command, GateDecision
from models.evidence import EvidencePin
from models.gates import ApprovalGate
from models.messages import GateState, Signoff
from models.plan import Plan
from workflows.rules import rechecks
from workflows.rules.clock import View
from workflows.rules.delegation import acting_for
from workflows.rules.kinds.base import Kind, with_article
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import EVIDENCE_RECHECKED, FIXED_APPROVERS


def approvers(v: View, spec: ApprovalGate, gate: GateState) -> list[str]:
    """Who may approve: fixed when a ``rule: all`` gate opened, else the roster as it is."""
    return gate.eligible if gate.eligible is not None else v.eligible(spec.approvers.roles)


def sides_missing(v: View, spec: ApprovalGate, gate: GateState) -> list[str]:
    """The orgs a two-sided gate still needs an approval from."""
    orgs = {p.id: p.org for p in v.state.people}
    signed = {orgs.get(p) for p in approvers(v, spec, gate) if p in gate.approvals}
    return [org for org in spec.orgs if org not in signed]


def approvals_pass(v: View, spec: ApprovalGate, gate: GateState) -> bool:
    """Whether the approvals given so far satisfy the gate's rule and, with ``orgs``, both sides."""
    rule, needed = spec.approvers.rule, spec.approvers.quorum
    eligible = approvers(v, spec, gate)
    approved = [p for p in eligible if p in gate.approvals]
    if sides_missing(v, spec, gate):
        return False
    if needed:
        return len(approved) >= needed
    if rule == "all":
        return len(approved) == len(eligible)
    return bool(approved)


class Approval(Kind[ApprovalGate]):
    """Approvers sign off, each once; someone standing in counts as the person they stand in for."""

    kind = "approval"
    takes = ("approve",)
    passes_on = "it passes on its approvers' sign-offs"
    asks = "sign off"
    needs = "approval"
    waits_on_people = True

    def elsewhere(self, key: str, other: Kind[Any], update: str) -> str:
        """``gate 'x' is a kpi gate and is not approved: it passes on KPI readings``."""
        return f"gate '{key}' is {with_article(other.kind)} gate and is not approved: {other.passes_on}"

    def open(self, m: Recorder, spec: ApprovalGate, gate: GateState) -> None:
        """For ``rule: all``, fix its approvers from the roster as it opens."""
        if spec.approvers.rule == "all" and m.changed(FIXED_APPROVERS):
            gate.eligible = m.eligible(spec.approvers.roles)

    def deciders(self, spec: ApprovalGate) -> list[str]:
        """Its approvers' roles."""
        return list(spec.approvers.roles)

    def progress(self, v: View, spec: ApprovalGate, gate: GateState) -> tuple[str, list[str]]:
        """``1/2 approvals`` (``, awaiting client`` while a side is missing), and who has not signed."""
        eligible = approvers(v, spec, gate)
        got = [p for p in eligible if p in gate.approvals]
        need = spec.approvers.quorum or (len(eligible) if spec.approvers.rule == "all" else 1)
        progress = f"{min(len(got), need)}/{need} approvals"
        waiting = [p for p in eligible if p not in gate.approvals]
        if missing_sides := sides_missing(v, spec, gate):
            orgs = {p.id: p.org for p in v.state.people}
            waiting = [p for p in waiting if orgs.get(p) in missing_sides] if got else waiting
            progress += f", awaiting {' and '.join(missing_sides)}"
        return progress, waiting

    def awaited(self, v: View, spec: ApprovalGate, gate: GateState, waiting: list[str]) -> list[str]:
        """The approvers who have not signed (on the side still missing)."""
        return waiting

    def probes(self, v: View, spec: ApprovalGate, key: str, by: str) -> list[GateDecision]:
        """An approval with evidence, so that a gate requiring it is not refused for the probe."""
        return [Approve(by=by, gate=key, evidence="-")]

    def check(
        self, v: View, spec: ApprovalGate, gate: GateState, command: GateDecision, signs: Callable[[], None]
    ) -> None:
        """Only an approver signs; with ``evidence: required``, every approval carries some."""

        signs()
        if isinstance(command, Approve) and spec.evidence == "required" and not command.evidence:
            raise Refused(
                f"gate '{gate.key}' needs evidence with each approval: a link or a reference",
                RefusalKind.EVIDENCE_REQUIRED,
            )

    def apply(
        self, m: Recorder, spec: ApprovalGate, gate: GateState, command: Any, now: datetime, **extra: Any
    ) -> bool:
        """Count an approval. ``pin`` is its evidence as fetched and kept when the approval came."""
        assert isinstance(command, Approve)
        pin: EvidencePin | None = extra.get("pin")
        eligible = approvers(m, spec, gate)
        # Someone standing in counts as the person they stand in for, who has not approved yet.
        principal = acting_for(m, command.by, lambda p: p in eligible and p not in gate.approvals, now)
        who = principal or command.by
        first = who not in gate.approvals
        if first:
            gate.approvals[who] = Signoff(by=command.by, at=now, note=command.note, evidence=command.evidence, pin=pin)
            if pin is not None and command.evidence and m.changed(EVIDENCE_RECHECKED):
                rechecks.watch(m, gate.key, command.by, command.evidence, pin, now)
        detail: dict[str, object] = {"evidence": command.evidence, "repeat": not first}
        if principal:
            detail["for"] = principal
        if pin is not None:
            detail["pinned"] = pin.model_dump(mode="json", exclude={"at"})
        m.decided("approved", gate.key, command, now, command.note, detail)
        return True

    def met(self, v: View, spec: ApprovalGate, gate: GateState) -> bool:
        """Its approvers' rule holds, on every side it names."""
        return approvals_pass(v, spec, gate)

    def simulate(self, plan: Plan, spec: ApprovalGate, key: str, wave: int, reporter: str) -> list[Command]:
        """As many eligible people approve as it needs, one of each side it names among them."""
        eligible = [p for p in plan.people if set(p.roles) & set(spec.approvers.roles)]
        need = spec.approvers.quorum or (len(eligible) if spec.approvers.rule == "all" else 1)
        chosen = [p.id for p in eligible[:need]] + [next(p.id for p in eligible if p.org == o) for o in spec.orgs]
        evidence = "simulated" if spec.evidence == "required" else None
        return [Approve(gate=key, by=who, evidence=evidence) for who in dict.fromkeys(chosen)]


KIND = Approval()
