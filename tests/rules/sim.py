"""Drive `Machine` by hand: commands at a moment, time passing as the workflow's timer would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.commands import Approve, Command, RecordReadings, Reject, Tick, Waive
from models.deliveries import AuditEntry, Notice
from models.plan import Plan
from models.plan_loader import load_plan, parse_plan
from models.status import GateStatus, TransitionStatus
from workflows.rules import Machine, Patched, Refused, every_change

REFERENCE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "reference-plan.yaml"
PLAN = load_plan(REFERENCE_PLAN, env={}).plan
START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
LI, DANA, EVE = "li@acme.example", "dana@acme.example", "eve@acme.example"
RAJ, MO = "raj@northstar.example", "mo@northstar.example"
GOOD = {"csat": 90.0, "error_rate": 1.5, "first_response_hours": 3.0}


def plan_with(old: str, new: str) -> Plan:
    """The reference plan with one piece of its YAML replaced."""
    text = REFERENCE_PLAN.read_text()
    assert old in text, old
    return parse_plan(text.replace(old, new, 1), env={}).plan


class Run:
    """One transition under the rules, with its own clock and everything it sent."""

    def __init__(self, plan: Plan = PLAN, patched: Patched = every_change, start: datetime = START) -> None:
        self.now = start
        self.machine = Machine.start(plan, "t-1", start, patched)
        self.audit: list[AuditEntry] = []
        self.notices: list[Notice] = []
        self._collect()

    def _collect(self) -> None:
        out = self.machine.take_outbox()
        self.audit += out.audit
        self.notices += out.notices

    def do(self, command: Command) -> TransitionStatus:
        """Apply a command now, as the workflow's update would, and answer with the status."""
        self.machine.check(command, self.now)
        self.machine.apply(command, self.now)
        self._collect()
        return self.status()

    def refused(self, command: Command, kind: str) -> str:
        """Assert the rules refuse ``command`` with ``kind`` and change nothing; the message."""
        before = self.machine.state.model_dump()
        with pytest.raises(Refused) as caught:
            self.machine.check(command, self.now)
        assert caught.value.kind == kind, str(caught.value)
        assert self.machine.state.model_dump() == before
        return str(caught.value)

    def later(self, **delta: float) -> TransitionStatus:
        """Let time pass, waking at every moment the rules asked for on the way."""
        until = self.now + timedelta(**delta)
        while (wake := self.machine.next_wakeup(self.now)) is not None and wake <= until:
            self.now = max(wake, self.now)
            self.machine.advance(self.now)
            self._collect()
        self.now = until
        return self.status()

    def status(self) -> TransitionStatus:
        """Where the transition stands now."""
        return self.machine.status(self.now)

    def gate(self, key: str) -> GateStatus:
        """One gate of the phase under way."""
        return next(g for g in self.status().gates if g.key == key)

    def sent_failures(self) -> list[AuditEntry]:
        """The audit rows of deliveries given up."""
        return [a for a in self.audit if a.kind == "notification_failed"]

    def sent(self, kind: str) -> list[Notice]:
        """The notices of ``kind`` sent so far."""
        return [n for n in self.notices if n.kind == kind]

    # --- the reference plan's phases ---------------------------------------------------------

    def approve(self, gate: str, *people: str, evidence: str | None = None) -> TransitionStatus:
        """Approvals from each of ``people`` in turn."""
        for person in people:
            self.do(Approve(gate=gate, by=person, evidence=evidence))
        return self.status()

    def tick(self, gate: str, by: str, *items: str) -> TransitionStatus:
        """Ticks of each of ``items`` in turn."""
        for item in items:
            self.do(Tick(gate=gate, item=item, by=by))
        return self.status()

    def read(self, period: str, **values: float) -> TransitionStatus:
        """Readings for one period."""
        return self.do(RecordReadings(period=period, values=values, by=LI))

    def reject(self, gate: str, by: str) -> TransitionStatus:
        """A rejection with a reason."""
        return self.do(Reject(gate=gate, by=by, reason="not good enough"))

    def waive(self, gate: str, by: str) -> TransitionStatus:
        """A waiver with a reason."""
        return self.do(Waive(gate=gate, by=by, reason="agreed in steering committee"))

    def pass_planning(self) -> TransitionStatus:
        """Meet every gate of planning."""
        self.approve("gap_analysis_approved", LI)
        self.approve("slas_signed", DANA, RAJ)
        return self.tick(
            "governance_defined", LI, "raci", "escalation_matrix", "communication_protocol", "knowledge_base"
        )

    def reach_pilot(self) -> TransitionStatus:
        """Pass planning, mobilization and knowledge transfer."""
        self.pass_planning()
        self.approve("kickoff_held", LI, RAJ, evidence="MIN-7")
        self.tick("process_maps", EVE, "email_support", "chat_support")
        self.approve("training_signed_off", MO, EVE)
        status = self.read("cert-1", assessment_score=86)
        assert status.phase == "pilot"
        return status
