"""The transition's state machine, in plain deterministic Python.

`Machine` takes a decision or the passing of time and changes a `TransitionState`, collecting
what must be written to the audit trail and who must be told in an `Outbox`. It imports nothing
from Temporal: the workflow in `workflows/transition.py` feeds it and carries out its outbox,
and the tests in `tests/test_rules.py` drive it with no server at all. The rules it follows are
those of `docs/semantics.md`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from models.durations import spoken
from models.messages import (
    STEADY_STATE,
    Approve,
    AuditEntry,
    Cancel,
    ChangeRoster,
    Decision,
    Delivery,
    Escalation,
    GateState,
    GateStatus,
    Ledger,
    Notice,
    Outbox,
    Pause,
    PhaseRun,
    ReadingsBatch,
    Recipient,
    RecordReadings,
    Reject,
    Resume,
    Signoff,
    Tick,
    TransitionState,
    TransitionStatus,
    Waive,
)
from models.plan import (
    CONTROL_ROLES,
    WAIVE_ROLES,
    ApprovalGate,
    ChecklistGate,
    KpiGate,
    Phase,
    Plan,
    RosterGate,
)
from workflows.governance import quarter_summary, settle, settlement_text

HEALTH_ORDER = ("on_track", "at_risk", "escalated")
MAX_SEEN_REQUESTS = 500
MAX_SETTLEMENTS = 120  # ten years of monthly periods; older ones stay in the audit trail
MAX_DECISIONS = 300
YEAR = timedelta(days=365)


class Refused(Exception):
    """A decision the rules do not allow; the message says what is wrong and what would be right."""

    def __init__(self, message: str, kind: str = "Refused") -> None:
        super().__init__(message)
        self.kind = kind


def _done(gate: GateState) -> bool:
    return gate.status in ("passed", "waived")


class Machine:
    """The rules of one transition, over its plan and its state."""

    def __init__(self, plan: Plan, state: TransitionState) -> None:
        self.plan = plan
        self.state = state
        self.outbox = Outbox()
        self.period_closed = False
        """Set when a steady-state period was settled: a good moment to continue as new."""

    # --- starting -------------------------------------------------------------------------

    @classmethod
    def start(cls, plan: Plan, transition_id: str, now: datetime) -> Machine:
        """A new transition at the start of its first phase."""
        state = TransitionState(
            id=transition_id,
            people=list(plan.people),
            started_at=now,
            phase_started_at=now,
            clock_at=now,
        )
        machine = cls(plan, state)
        machine._audit("transition_started", now, detail={"plan": plan.name})
        machine._begin_phase(0, now)
        machine.advance(now)
        return machine

    # --- reading the clocks ---------------------------------------------------------------

    @property
    def phase(self) -> Phase | None:
        """The phase under way, or None in steady state."""
        i = self.state.phase_index
        return self.plan.phases[i] if i < len(self.plan.phases) else None

    @property
    def phase_key(self) -> str:
        return self.phase.key if self.phase else STEADY_STATE

    def active_at(self, now: datetime) -> float:
        """Seconds the transition has run unpaused, up to ``now``."""
        s = self.state
        if s.state != "running":
            return s.active_seconds
        return s.active_seconds + max(0.0, (now - s.clock_at).total_seconds())

    def phase_elapsed(self, now: datetime) -> timedelta:
        """Unpaused time since the current phase began: what ``due`` and ``min_duration`` count."""
        return timedelta(seconds=self.active_at(now) - self.state.phase_active_start)

    def _wall(self, offset: timedelta, now: datetime) -> datetime:
        """When the phase clock will read ``offset``, if nothing pauses it from ``now`` on."""
        return now + (offset - self.phase_elapsed(now))

    def _at_active(self, seconds: float, now: datetime) -> datetime:
        """When the transition's unpaused clock will read ``seconds``, if nothing pauses it."""
        return now + timedelta(seconds=seconds - self.active_at(now))

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next moment the passing of time alone can change something, if any."""
        if self.state.state != "running":
            return None
        phase, moments = self.phase, []
        if phase is None:
            moments += self._steady_moments(now)
        else:
            gates_done = all(_done(g) for g in self.state.gates)
            if not gates_done and phase.due:
                for level_no, level in enumerate(self.plan.ladder(phase), start=1):
                    if level_no not in self.state.fired:
                        moments.append(self._wall(phase.due + level.after, now))
            if gates_done and phase.min_duration and self._last_wave():
                moments.append(self._wall(phase.min_duration, now))
            if self.plan.cadence.check_in:
                every = self.plan.cadence.check_in.total_seconds()
                moments.append(self._at_active((self.state.check_ins_sent + 1) * every, now))
        return min(moments) if moments else None

    def _steady_moments(self, now: datetime) -> list[datetime]:
        ledger, terms = self.state.ledger, self.plan.steady_state
        if ledger is None or terms is None:
            return []
        moments = [self._at_active(ledger.active_start + ledger.period * terms.review_period.total_seconds(), now)]
        if self.plan.cadence.business_review:
            every = self.plan.cadence.business_review.total_seconds()
            moments.append(self._at_active(ledger.active_start + (ledger.reviews_sent + 1) * every, now))
        if (end := self._until()) is not None:
            moments.append(end)
        return moments

    def _until(self) -> datetime | None:
        """The end of steady state: the end of the ``until`` day, UTC."""
        terms = self.plan.steady_state
        if terms is None or terms.until is None:
            return None
        return datetime.combine(terms.until + timedelta(days=1), time(0), tzinfo=UTC)

    def _last_wave(self) -> bool:
        phase = self.phase
        return not phase or not phase.waves or self.state.wave_index >= len(phase.waves) - 1

    # --- the passing of time --------------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Apply every rule whose time has come: escalations, gates passing, phases ending,
        check-ins, and in steady state settlements, business reviews and the contract's end."""
        while self.state.state == "running" and (phase := self.phase) is not None:
            self._check_in(phase, now)
            self._escalate(phase, now)
            self._check_roster_gates(now)
            if not all(_done(g) for g in self.state.gates):
                return
            if not self._last_wave():
                self._next_wave(now)
                continue
            if phase.min_duration and self.phase_elapsed(now) < phase.min_duration:
                return
            self._pass_phase(phase, now)
        if self.state.state == "running" and self.phase is None:
            self._govern(now)

    def _check_in(self, phase: Phase, now: datetime) -> None:
        every = self.plan.cadence.check_in
        if not every:
            return
        due = int(self.active_at(now) // every.total_seconds())
        if due <= self.state.check_ins_sent:
            return
        self.state.check_ins_sent = due  # one reminder, however many were missed while paused
        waiting = [f"{g.key} ({g.progress})" for g in map(self.gate_status, self.state.gates) if g.status == "open"]
        self._notify(
            "check_in",
            f"[{self.plan.client}] check-in #{due}: {phase.name}",
            f"Check-in for '{self.plan.name}': phase {phase.name}, health {self.state.health}. "
            f"Open gates: {', '.join(waiting) or 'none'}.",
            ["point_of_contact"],
            now,
        )

    # --- steady state -----------------------------------------------------------------------

    def _govern(self, now: datetime) -> None:
        ledger, terms = self.state.ledger, self.plan.steady_state
        if ledger is None or terms is None:
            return
        period = terms.review_period.total_seconds()
        while self.active_at(now) >= ledger.active_start + ledger.period * period:
            end = self._at_active(ledger.active_start + ledger.period * period, now)
            self._settle(end, now)
        review = self.plan.cadence.business_review
        if review and self.active_at(now) >= ledger.active_start + (ledger.reviews_sent + 1) * review.total_seconds():
            ledger.reviews_sent = int((self.active_at(now) - ledger.active_start) // review.total_seconds())
            self._business_review(now)
        until = self._until()
        if until is not None and now >= until:
            self._settle(until, now)
            self._complete(now)

    def _contract_year(self, period: int) -> int:
        """The contract year a period falls in; periods run back to back on the unpaused clock."""
        terms = self.plan.steady_state
        assert terms is not None
        return int((period - 1) * terms.review_period.total_seconds() // YEAR.total_seconds()) + 1

    def _settle(self, end: datetime, now: datetime) -> None:
        ledger = self.state.ledger
        assert ledger is not None
        settlement = settle(
            self.plan,
            ledger.readings,
            period=ledger.period,
            start=ledger.period_started_at,
            end=end,
            contract_year=self._contract_year(ledger.period),
            breaches=ledger.alerted,
        )
        ledger.settlements = [*ledger.settlements, settlement][-MAX_SETTLEMENTS:]
        ledger.period += 1
        ledger.period_started_at = end
        ledger.readings, ledger.alerted = {}, []
        self.period_closed = True
        detail = settlement.model_dump(mode="json")
        self._audit("settlement", now, detail=detail)
        self._notify(
            "settlement",
            f"[{self.plan.client}] settlement for period {settlement.period}: "
            f"credit {settlement.credit:,.2f} {settlement.currency}",
            settlement_text(settlement),
            ["program_manager", "transition_lead", "executive_sponsor"],
            now,
            detail,
        )

    def _business_review(self, now: datetime) -> None:
        ledger = self.state.ledger
        assert ledger is not None and self.plan.cadence.business_review
        quarter_start = now - self.plan.cadence.business_review
        recent = [s for s in ledger.settlements if s.to > quarter_start]
        open_escalations = len([e for e in self.state.escalations if e.phase == self.phase_key])
        summary = quarter_summary(recent, open_escalations)
        self._audit("business_review_due", now, detail={"review": ledger.reviews_sent, "summary": summary})
        self._notify(
            "business_review",
            f"[{self.plan.client}] quarterly business review #{ledger.reviews_sent} is due",
            f"Time for the business review of '{self.plan.name}'. {summary}",
            ["executive_sponsor", "program_manager", "point_of_contact", "transition_lead"],
            now,
            {"review": ledger.reviews_sent},
        )

    def _complete(self, now: datetime) -> None:
        s = self.state
        s.active_seconds, s.clock_at = self.active_at(now), now
        s.state, s.ended_at, s.end_reason = "completed", now, "steady state ended on its until date"
        self._close_run("passed", now)
        self._audit("transition_completed", now)
        self._notify(
            "completed",
            f"[{self.plan.client}] transition complete",
            f"'{self.plan.name}' reached the end of its contract's steady state.",
            ["executive_sponsor", "program_manager"],
            now,
        )

    def _escalate(self, phase: Phase, now: datetime) -> None:
        if not phase.due or all(_done(g) for g in self.state.gates):
            return
        late = self.phase_elapsed(now) - phase.due
        for level_no, level in enumerate(self.plan.ladder(phase), start=1):
            if level_no in self.state.fired or late < level.after:
                continue
            self.state.fired.append(level_no)
            people = self._holding(level.notify)
            if level.health and HEALTH_ORDER.index(level.health) > HEALTH_ORDER.index(self.state.health):
                self.state.health = level.health
                self.state.health_raised_by = phase.key
            open_gates = [g.key for g in self.state.gates if not _done(g)]
            self.state.escalations.append(
                Escalation(
                    phase=phase.key,
                    attempt=self.state.attempt,
                    level=level_no,
                    at=now,
                    notified=[p.id for p in people],
                    health=level.health,
                )
            )
            detail = {"level": level_no, "late_by": str(late), "open_gates": open_gates, "health": self.state.health}
            self._audit("escalation", now, detail=detail)
            self._notify(
                "escalation",
                f"[{self.plan.client}] {phase.name} is overdue: escalation level {level_no}",
                f"Phase '{phase.name}' of '{self.plan.name}' was due {spoken(late)} ago and still waits on "
                f"{', '.join(open_gates)}. Health: {self.state.health}.",
                level.notify,
                now,
                detail,
            )

    def _check_roster_gates(self, now: datetime) -> None:
        phase = self.phase
        assert phase is not None
        for gate in self.state.gates:
            spec = phase.gate(gate.key)
            if isinstance(spec, RosterGate) and gate.status == "open" and not self._missing_roles(spec):
                gate.status = "passed"
                self._audit("gate_passed", now, gate=gate.key, detail={"kind": "roster"})

    def _missing_roles(self, gate: RosterGate) -> list[str]:
        held = {r for p in self.state.people for r in p.roles}
        return [r for r in gate.requires if r not in held]

    def _next_wave(self, now: datetime) -> None:
        phase = self.phase
        assert phase is not None and phase.waves
        self.state.wave_index += 1
        wave = phase.waves[self.state.wave_index]
        self.state.gates = self._fresh_gates(phase)
        self._audit("wave_started", now, detail={"wave": self.state.wave_index + 1, "size": wave})
        self._notify(
            "wave_started",
            f"[{self.plan.client}] {phase.name}: wave {self.state.wave_index + 1} ({wave:g}%) begins",
            f"Wave {self.state.wave_index} passed its gates; wave {self.state.wave_index + 1} "
            f"takes {wave:g}% of the volume.",
            ["point_of_contact"],
            now,
        )

    def _pass_phase(self, phase: Phase, now: datetime) -> None:
        self._close_run("passed", now)
        self._audit("phase_passed", now, detail={"attempt": self.state.attempt})
        if self.state.health_raised_by == phase.key:
            self.state.health = "on_track"
            self.state.health_raised_by = None
        self._begin_phase(self.state.phase_index + 1, now)

    def _begin_phase(self, index: int, now: datetime) -> None:
        s = self.state
        s.phase_index = index
        s.attempt = 1 + sum(1 for r in s.phases if r.phase == self.phase_key)
        s.wave_index = 0
        s.fired = []
        s.phase_started_at = now
        s.phase_active_start = self.active_at(now)
        phase = self.phase
        s.gates = self._fresh_gates(phase) if phase else []
        if phase is None and self.plan.steady_state:
            s.ledger = Ledger(since=now, active_start=s.phase_active_start, period_started_at=now)
        s.phases.append(PhaseRun(phase=self.phase_key, attempt=s.attempt, started_at=now))
        name = phase.name if phase else "Steady-state governance"
        self._audit("phase_started", now, detail={"attempt": s.attempt, "name": name})
        self._notify(
            "phase_started",
            f"[{self.plan.client}] {name} begins",
            f"'{self.plan.name}' entered {name}"
            + (f" (attempt {s.attempt})" if s.attempt > 1 else "")
            + (f", due in {spoken(phase.due)}" if phase and phase.due else "")
            + ".",
            ["point_of_contact"],
            now,
        )

    def _fresh_gates(self, phase: Phase) -> list[GateState]:
        return [GateState(key=g.key, kind=g.kind) for g in phase.gates]

    def _close_run(self, outcome: str, now: datetime) -> None:
        run = self.state.phases[-1]
        run.ended_at, run.outcome = now, outcome  # type: ignore[assignment]

    # --- decisions --------------------------------------------------------------------------

    def check(self, command: Any, now: datetime) -> None:
        """Refuse ``command`` with a `Refused` if the rules do not allow it; change nothing.

        A command whose ``request_id`` was already applied is a repeat and always allowed:
        applying it again changes nothing.
        """
        if self.is_repeat(command):
            return
        if isinstance(command, ReadingsBatch):
            for batch in command.batches:
                self._check_readings(batch)
        elif isinstance(command, RecordReadings):
            self._check_readings(command)
        elif isinstance(command, (Pause, Resume, Cancel, ChangeRoster)):
            self._check_control(command)
        else:
            self._check_gate_decision(command)

    def apply(self, command: Any, now: datetime) -> None:
        """Check ``command``, then carry it out and let the rules run on."""
        if self.is_repeat(command):
            return
        self.check(command, now)
        if command.request_id:
            self.state.seen_requests = [*self.state.seen_requests, command.request_id][-MAX_SEEN_REQUESTS:]
        handler = {
            Approve: self._approve,
            Tick: self._tick,
            Reject: self._reject,
            Waive: self._waive,
            RecordReadings: self._record,
            ReadingsBatch: self._record_batch,
            Pause: self._pause,
            Resume: self._resume,
            Cancel: self._cancel,
            ChangeRoster: self._change_roster,
        }[type(command)]
        handler(command, now)
        self.advance(now)

    def is_repeat(self, command: Any) -> bool:
        """Whether ``command`` carries a request id already applied."""
        return bool(command.request_id) and command.request_id in self.state.seen_requests

    def _person(self, person_id: str) -> Any:
        person = next((p for p in self.state.people if p.id == person_id), None)
        if person is None:
            known = ", ".join(p.id for p in self.state.people)
            raise Refused(f"'{person_id}' is not on the roster; people who may decide: {known}", "NotAllowed")
        return person

    def _require_role(self, person_id: str, roles: Iterable[str], what: str) -> None:
        person = self._person(person_id)
        roles = list(roles)
        if not set(person.roles) & set(roles):
            raise Refused(
                f"{person_id} may not {what}: it needs one of the roles {', '.join(roles)}, "
                f"and {person_id} holds {', '.join(person.roles)}",
                "NotAllowed",
            )

    def _gate(self, key: str) -> tuple[Any, GateState]:
        """The plan's gate ``key`` and its state, if it is a gate of the phase under way."""
        phase = self.phase
        gate_state = next((g for g in self.state.gates if g.key == key), None)
        if phase is not None and gate_state is not None:
            return phase.gate(key), gate_state
        for i, other in enumerate(self.plan.phases):
            if other.gate(key) is not None:
                when = "has not begun" if i > self.state.phase_index else "has already passed"
                raise Refused(
                    f"gate '{key}' belongs to phase '{other.key}', which {when}; the transition is in "
                    f"'{self.phase_key}'",
                    "GateNotOpen",
                )
        current = ", ".join(g.key for g in self.state.gates) or "none (steady state)"
        raise Refused(f"unknown gate '{key}'; gates of the current phase '{self.phase_key}': {current}", "UnknownGate")

    def _check_gate_decision(self, command: Approve | Tick | Reject | Waive) -> None:
        if self.state.state == "paused":
            raise Refused(
                f"the transition is paused ({self.state.pause_reason}); resume it before deciding on gates",
                "Paused",
            )
        self._check_live()
        spec, gate = self._gate(command.gate)
        if gate.status != "open":
            raise Refused(f"gate '{gate.key}' is {gate.status}, not open; no decision can change it now", "GateNotOpen")
        if isinstance(command, Waive):
            self._require_role(command.by, WAIVE_ROLES, f"waive gate '{gate.key}'")
            return
        approvers = spec.approvers.roles if isinstance(spec, (ApprovalGate, ChecklistGate)) else WAIVE_ROLES
        if isinstance(command, Reject):
            self._require_role(command.by, approvers, f"reject gate '{gate.key}'")
            return
        if isinstance(command, Approve) and not isinstance(spec, ApprovalGate):
            how = {
                "checklist": f"tick its items with 'bpo tick ID {gate.key} ITEM'",
                "kpi": "it passes on KPI readings ('bpo kpi')",
                "roster": "it passes when the roster holds every required role",
            }[spec.kind]
            raise Refused(f"gate '{gate.key}' is a {spec.kind} gate and is not approved: {how}", "WrongGateKind")
        if isinstance(command, Tick):
            if not isinstance(spec, ChecklistGate):
                raise Refused(
                    f"gate '{gate.key}' is a {spec.kind} gate, not a checklist; nothing to tick", "WrongGateKind"
                )
            items = self.plan.checklist_items(spec)
            if command.item not in items:
                raise Refused(
                    f"unknown item '{command.item}' of gate '{gate.key}'; its items: {', '.join(items)}", "UnknownItem"
                )
        self._require_role(command.by, approvers, f"sign off gate '{gate.key}'")
        if isinstance(command, Approve) and spec.evidence == "required" and not command.evidence:
            raise Refused(
                f"gate '{gate.key}' needs evidence with each approval: a link or a reference (--evidence)",
                "EvidenceRequired",
            )

    def _check_live(self) -> None:
        if self.state.state in ("completed", "cancelled"):
            raise Refused(f"the transition is {self.state.state}; it takes no more decisions", "Ended")

    def _check_control(self, command: Pause | Resume | Cancel | ChangeRoster) -> None:
        self._check_live()
        if isinstance(command, Pause):
            self._require_role(command.by, CONTROL_ROLES, "pause the transition")
            if self.state.state == "paused":
                raise Refused(f"the transition is already paused ({self.state.pause_reason})", "AlreadyPaused")
        elif isinstance(command, Resume):
            self._require_role(command.by, CONTROL_ROLES, "resume the transition")
            if self.state.state != "paused":
                raise Refused("the transition is not paused", "NotPaused")
        elif isinstance(command, Cancel):
            self._require_role(command.by, WAIVE_ROLES, "cancel the transition")
        else:
            self._require_role(command.by, CONTROL_ROLES, "change the roster")
            ids = {p.id for p in self.state.people}
            for person_id in command.remove:
                if person_id not in ids:
                    raise Refused(f"'{person_id}' is not on the roster, so cannot be removed", "UnknownPerson")
            if not command.add and not command.remove:
                raise Refused("nothing to change: name people to add or remove", "EmptyChange")

    def _check_readings(self, command: RecordReadings) -> None:
        self._check_live()
        known = [k.key for k in self.plan.kpis]
        for metric in command.values:
            if metric not in known:
                raise Refused(f"unknown metric '{metric}'; the plan's KPIs: {', '.join(known)}", "UnknownMetric")
        if command.by is not None:
            self._person(command.by)

    def _approve(self, command: Approve, now: datetime) -> None:
        spec, gate = self._gate(command.gate)
        first = command.by not in gate.approvals
        if first:
            gate.approvals[command.by] = Signoff(by=command.by, at=now, note=command.note, evidence=command.evidence)
        self._decided(
            "approved", gate.key, command.by, now, command.note, {"evidence": command.evidence, "repeat": not first}
        )
        rule, needed = spec.approvers.rule, spec.approvers.quorum
        eligible = self._eligible(spec.approvers.roles)
        approved = [p for p in eligible if p in gate.approvals]
        if needed:
            passed = len(approved) >= needed
        elif rule == "all":
            passed = len(approved) == len(eligible)
        else:
            passed = bool(approved)
        if passed:
            self._gate_passed(gate, now)

    def _tick(self, command: Tick, now: datetime) -> None:
        spec, gate = self._gate(command.gate)
        first = command.item not in gate.ticks
        if first:
            gate.ticks[command.item] = Signoff(by=command.by, at=now, note=command.note)
        self._decided("ticked", gate.key, command.by, now, command.note, {"item": command.item, "repeat": not first})
        if all(item in gate.ticks for item in self.plan.checklist_items(spec)):
            self._gate_passed(gate, now)

    def _waive(self, command: Waive, now: datetime) -> None:
        _, gate = self._gate(command.gate)
        gate.status = "waived"
        gate.decision = Signoff(by=command.by, at=now, note=command.reason)
        self._decided("waived", gate.key, command.by, now, command.reason)

    def _reject(self, command: Reject, now: datetime) -> None:
        phase = self.phase
        assert phase is not None
        _, gate = self._gate(command.gate)
        self._decided("rejected", gate.key, command.by, now, command.reason)
        rework = phase.on_reject
        done = self.state.reworks.get(phase.key, 0)
        if rework and done < rework.max_reworks:
            self.state.reworks[phase.key] = done + 1
            target = self.plan.phase_index(rework.back_to)
            assert target is not None
            self._close_run("reworked", now)
            self._notify(
                "rework",
                f"[{self.plan.client}] {phase.name} rejected: back to {self.plan.phases[target].name}",
                f"{command.by} rejected '{gate.key}': {command.reason}. The transition goes back to "
                f"'{rework.back_to}' (rework {done + 1} of {rework.max_reworks}).",
                ["point_of_contact", "program_manager"],
                now,
                {"gate": gate.key, "back_to": rework.back_to, "rework": done + 1},
            )
            self._begin_phase(target, now)
            return
        gate.status = "rejected"
        gate.decision = Signoff(by=command.by, at=now, note=command.reason)
        self.state.health = "escalated"
        self.state.health_raised_by = phase.key
        why = "no rework is allowed" if not rework else f"the {rework.max_reworks} reworks allowed are used up"
        self._notify(
            "gate_rejected",
            f"[{self.plan.client}] {phase.name} halted: '{gate.key}' rejected",
            f"{command.by} rejected '{gate.key}': {command.reason}. As {why}, the transition is paused "
            "until someone resumes it (which reopens the gate) or cancels it.",
            ["executive_sponsor"],
            now,
            {"gate": gate.key},
        )
        self._audit("halted", now, gate=gate.key, actor=command.by, detail={"reason": command.reason})
        self._pause_clock(now, f"gate '{gate.key}' rejected: {command.reason}")

    def _record_batch(self, command: ReadingsBatch, now: datetime) -> None:
        for batch in command.batches:
            self._record(batch, now)

    def _record(self, command: RecordReadings, now: datetime) -> None:
        phase = self.phase
        self._audit(
            "kpi_reading",
            now,
            actor=command.by,
            detail={"period": command.period, "values": command.values},
        )
        if phase is None:
            self._record_steady(command, now)
            return
        for gate in self.state.gates:
            spec = phase.gate(gate.key)
            if not isinstance(spec, KpiGate) or gate.status != "open":
                continue
            values = {m: v for m, v in command.values.items() if m in spec.metrics}
            if not values:
                continue
            if command.period not in gate.periods:
                gate.periods.append(command.period)
            gate.readings.setdefault(command.period, {}).update(values)
            if self._kpi_streak(spec, gate)[0] >= spec.periods:
                self._gate_passed(gate, now)

    def _record_steady(self, command: RecordReadings, now: datetime) -> None:
        ledger, terms = self.state.ledger, self.plan.steady_state
        if ledger is None or terms is None:
            return
        ledger.readings.setdefault(command.period, {}).update(command.values)
        for metric, value in command.values.items():
            kpi = self.plan.kpi(metric)
            if kpi is None or kpi.meets_sla(value) or metric in ledger.alerted:
                continue
            ledger.alerted.append(metric)
            detail = {"kpi": metric, "value": value, "sla": kpi.sla, "label": command.period, "period": ledger.period}
            self._audit("sla_breach", now, actor=command.by, detail=detail)
            self._notify(
                "sla_breach",
                f"[{self.plan.client}] SLA breach: {kpi.name} {value:g} {kpi.unit} (SLA {kpi.sla:g})",
                f"A reading of {kpi.name} for {command.period} is {value:g} {kpi.unit}, "
                f"{'below' if kpi.better == 'higher' else 'above'} the SLA of {kpi.sla:g}. "
                f"It counts toward settlement period {ledger.period}.",
                terms.breach_alert,
                now,
                detail,
            )

    def _kpi_streak(self, spec: KpiGate, gate: GateState) -> tuple[int, list[str]]:
        """Consecutive periods, up to the latest complete one, in which every metric met its SLA.

        Returns the streak and the metrics the latest period still lacks. A period with a miss,
        or one left incomplete while a later period arrived, starts the count again.
        """
        streak, missing = 0, []
        for n, period in enumerate(gate.periods):
            read = gate.readings.get(period, {})
            missed = any(not self.plan.kpi(m).meets_sla(v) for m, v in read.items())  # type: ignore[union-attr]
            missing = [m for m in spec.metrics if m not in read]
            if missed:
                streak = 0
            elif not missing:
                streak += 1
                if streak >= spec.periods:
                    return streak, []
            elif n < len(gate.periods) - 1:
                streak = 0
        return streak, missing

    def _pause(self, command: Pause, now: datetime) -> None:
        self._decided("paused", None, command.by, now, command.reason)
        self._notify(
            "paused",
            f"[{self.plan.client}] transition paused",
            f"{command.by} paused '{self.plan.name}': {command.reason}. Clocks are stopped until it resumes.",
            ["point_of_contact", "program_manager"],
            now,
        )
        self._pause_clock(now, command.reason)

    def _pause_clock(self, now: datetime, reason: str) -> None:
        s = self.state
        s.active_seconds = self.active_at(now)
        s.clock_at = now
        s.state = "paused"
        s.paused_since = now
        s.pause_reason = reason

    def _resume(self, command: Resume, now: datetime) -> None:
        s = self.state
        assert s.paused_since is not None
        paused_for = (now - s.paused_since).total_seconds()
        s.paused_seconds += paused_for
        s.state, s.clock_at, s.paused_since, s.pause_reason = "running", now, None, None
        reopened = [g.key for g in s.gates if g.status == "rejected"]
        s.gates = [GateState(key=g.key, kind=g.kind) if g.status == "rejected" else g for g in s.gates]
        self._decided(
            "resumed", None, command.by, now, command.reason, {"paused_seconds": paused_for, "reopened": reopened}
        )
        self._notify(
            "resumed",
            f"[{self.plan.client}] transition resumed",
            f"{command.by} resumed '{self.plan.name}' after {spoken(timedelta(seconds=paused_for))}"
            + (f"; gates reopened: {', '.join(reopened)}" if reopened else "")
            + ".",
            ["point_of_contact", "program_manager"],
            now,
        )

    def _cancel(self, command: Cancel, now: datetime) -> None:
        s = self.state
        if s.state == "paused" and s.paused_since:
            s.paused_seconds += (now - s.paused_since).total_seconds()
        s.active_seconds = self.active_at(now)
        s.state, s.clock_at, s.paused_since = "cancelled", now, None
        s.ended_at, s.end_reason = now, command.reason
        self._close_run("cancelled", now)
        self._decided("cancelled", None, command.by, now, command.reason)
        self._notify(
            "cancelled",
            f"[{self.plan.client}] transition cancelled",
            f"{command.by} cancelled '{self.plan.name}': {command.reason}.",
            ["executive_sponsor", "program_manager", "point_of_contact"],
            now,
        )

    def _change_roster(self, command: ChangeRoster, now: datetime) -> None:
        added = {p.id for p in command.add}
        removed = set(command.remove) - added
        self.state.people = [p for p in self.state.people if p.id not in added | removed] + list(command.add)
        self._decided(
            "roster_changed", None, command.by, now, None, {"added": sorted(added), "removed": sorted(removed)}
        )

    def _gate_passed(self, gate: GateState, now: datetime) -> None:
        gate.status = "passed"
        self._audit("gate_passed", now, gate=gate.key, detail={"kind": gate.kind})

    def _decided(
        self,
        kind: str,
        gate: str | None,
        by: str,
        now: datetime,
        note: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        decision = Decision(kind=kind, phase=self.phase_key, gate=gate, by=by, at=now, note=note)
        self.state.decisions = [*self.state.decisions, decision][-MAX_DECISIONS:]
        self._audit(kind, now, gate=gate, actor=by, detail={"note": note, **(detail or {})})

    # --- the outbox ---------------------------------------------------------------------------

    def _next_id(self) -> str:
        self.state.seq += 1
        return f"{self.state.id}/{self.state.seq}"

    def _audit(
        self,
        kind: str,
        now: datetime,
        *,
        gate: str | None = None,
        actor: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.outbox.audit.append(
            AuditEntry(
                id=self._next_id(),
                transition_id=self.state.id,
                kind=kind,
                phase=self.phase_key,
                gate=gate,
                actor=actor,
                at=now,
                detail=detail or {},
            )
        )

    def _holding(self, roles: Iterable[str]) -> list[Any]:
        roles = set(roles)
        return [p for p in self.state.people if roles & set(p.roles)]

    def _eligible(self, roles: Iterable[str]) -> list[str]:
        return [p.id for p in self._holding(roles)]

    def _notify(
        self,
        kind: str,
        subject: str,
        text: str,
        roles: Iterable[str],
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        people = self._holding(roles)
        self.outbox.notices.append(
            Notice(
                id=self._next_id(),
                transition_id=self.state.id,
                kind=kind,
                subject=subject,
                text=text,
                at=now,
                recipients=[Recipient(id=p.id, name=p.name, email=p.address) for p in people],
                detail={"phase": self.phase_key, "health": self.state.health, **(detail or {})},
            )
        )

    def delivery_failed(self, delivery: Delivery, error: str, now: datetime) -> None:
        """Note in the audit trail that a notice could not be delivered through a channel."""
        detail = {"notice": delivery.notice.id, "channel": delivery.channel.kind, "error": error[:500]}
        self._audit("notification_failed", now, detail=detail)

    def take_outbox(self) -> Outbox:
        """What the rules asked for since the last call, emptied."""
        out, self.outbox = self.outbox, Outbox()
        return out

    # --- status ---------------------------------------------------------------------------

    def gate_status(self, gate: GateState) -> GateStatus:
        """A gate's progress as a person reads it (``1/2 periods``, ``3/4 items``)."""
        phase = self.phase
        assert phase is not None
        spec = phase.gate(gate.key)
        waiting: list[str] = []
        if isinstance(spec, ApprovalGate):
            eligible = self._eligible(spec.approvers.roles)
            got = [p for p in eligible if p in gate.approvals]
            need = spec.approvers.quorum or (len(eligible) if spec.approvers.rule == "all" else 1)
            progress = f"{min(len(got), need)}/{need} approvals"
            waiting = [p for p in eligible if p not in gate.approvals]
        elif isinstance(spec, ChecklistGate):
            items = self.plan.checklist_items(spec)
            progress = f"{sum(i in gate.ticks for i in items)}/{len(items)} items"
            waiting = [i for i in items if i not in gate.ticks]
        elif isinstance(spec, KpiGate):
            streak, missing = self._kpi_streak(spec, gate)
            progress = f"{min(streak, spec.periods)}/{spec.periods} periods"
            waiting = missing if gate.periods else list(spec.metrics)
        else:
            assert isinstance(spec, RosterGate)
            missing_roles = self._missing_roles(spec)
            progress = f"{len(spec.requires) - len(missing_roles)}/{len(spec.requires)} roles"
            waiting = missing_roles
        if gate.status != "open":
            waiting = []
        return GateStatus(key=gate.key, kind=gate.kind, status=gate.status, progress=progress, waiting_for=waiting)

    def status(self, now: datetime, brief: bool = False) -> TransitionStatus:
        """Where the transition stands at ``now``; ``brief`` leaves out the decision log and the
        settlements, which an update's answer need not repeat into the history every time."""
        s, phase = self.state, self.phase
        waves = phase.waves if phase else None
        elapsed = self.phase_elapsed(now)
        running = s.state == "running"
        return TransitionStatus(
            id=s.id,
            name=self.plan.name,
            client=self.plan.client,
            provider=self.plan.provider,
            state=s.state,
            phase=self.phase_key,
            phase_name=phase.name if phase else "Steady-state governance",
            phase_number=s.phase_index + 1,
            phases_total=len(self.plan.phases),
            health=s.health,
            wave=s.wave_index + 1 if waves else None,
            wave_size=waves[s.wave_index] if waves else None,
            waves=len(waves) if waves else None,
            reworks=sum(s.reworks.values()),
            gates=[self.gate_status(g) for g in s.gates],
            escalations=[e for e in s.escalations if e.phase == self.phase_key and e.attempt == s.attempt],
            started_at=s.started_at,
            phase_started_at=s.phase_started_at,
            phase_due_at=now + (phase.due - elapsed) if phase and phase.due and running else None,
            earliest_pass_at=(
                now + (phase.min_duration - elapsed) if phase and phase.min_duration and running else None
            ),
            paused_seconds=s.paused_seconds + ((now - s.paused_since).total_seconds() if s.paused_since else 0.0),
            paused_since=s.paused_since,
            pause_reason=s.pause_reason,
            ended_at=s.ended_at,
            end_reason=s.end_reason,
            history=s.phases,
            decisions=[] if brief else s.decisions[-50:],
            metrics=[k.key for k in self.plan.kpis],
            settlements=s.ledger.settlements[-1:] if brief and s.ledger else s.ledger.settlements if s.ledger else [],
            year_to_date=self._year_to_date(),
            runs=s.runs,
        )

    def _year_to_date(self) -> dict[str, float]:
        ledger = self.state.ledger
        if ledger is None:
            return {}
        year = self._contract_year(ledger.period)
        settled = [x for x in ledger.settlements if x.contract_year == year]
        return {
            "contract_year": year,
            "credit": round(sum(x.credit for x in settled), 2),
            "bonus": round(sum(x.bonus for x in settled), 2),
        }

    def details(self, now: datetime) -> str:
        """A short Markdown summary for the Temporal Web UI: phase, health, what each gate waits on."""
        st = self.status(now)
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
