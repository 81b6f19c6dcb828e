"""`Machine`: the one entry point to the rules of a transition.

It takes a command or the passing of time and changes a `TransitionState`, collecting what must
be written to the audit trail and who must be told in its outbox. The rules themselves live in
the modules beside it; this one starts a transition, dispatches commands and lets time run.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from models.commands import Command
from models.evidence import EvidencePin, RecheckRequest, RecheckResult
from models.feeds import FeedPull, FeedResult
from models.messages import GateState, TransitionState
from models.plan import Plan
from models.plan_words import Health
from models.program import RELAY_SIGNAL, ProgramLink, Relayed, WorkstreamRead, WorkstreamReport
from models.status import GateStatus, TransitionStatus
from workflows.rules import (
    awaiting,
    checks,
    deadlines,
    delegation,
    deliveries,
    feeds,
    gates,
    ledger,
    objectives,
    offered,
    phases,
    program,
    raid,
    rechecks,
    registry,
    replays,
    texts,
)
from workflows.rules import status as report
from workflows.rules.clock import is_done
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import Refused
from workflows.rules.versions import RUN_KEY_HASHED, RUN_SCOPED_IDS, SIGNATURES_BOUND, Patched, every_change

MAX_SEEN_REQUESTS = 500


def run_key_of(first_run_id: str, patched: Patched = every_change) -> str:
    """The key of a run family in its audit and notice ids: 8 hex digits of a hash of its first
    run's id. Before `run-key-hashed-2026-12` it was that id's first 8 digits, which Temporal's
    time-ordered run ids share for about a minute."""
    if patched(RUN_KEY_HASHED):
        return hashlib.sha256(first_run_id.encode()).hexdigest()[:8]
    return first_run_id[:8]


class Machine(Recorder):
    """The rules of one transition, over its plan and its state."""

    @classmethod
    def start(
        cls,
        plan: Plan,
        transition_id: str,
        now: datetime,
        patched: Patched = every_change,
        trusted_keys: list[str] | None = None,
        run_key: str | None = None,
        first_run_id: str | None = None,
        started_by: str | None = None,
        link: ProgramLink | None = None,
    ) -> Machine:
        """A new transition at the start of its first phase; with ``trusted_keys``, every command
        must carry a signature by one of them; ``run_key`` goes into every audit and notice id;
        ``first_run_id`` names the run family every signature covers; ``started_by`` who started
        it, kept in the first audit row and the status; ``link`` the program of a workstream."""
        state = TransitionState(
            id=transition_id,
            people=list(plan.people),
            started_at=now,
            phase_started_at=now,
            clock_at=now,
            trusted_keys=list(trusted_keys or []),
            started_by=started_by,
            program=link,
        )
        machine = cls(plan, state, patched)
        state.first_run_id = first_run_id
        if run_key and machine.changed(RUN_SCOPED_IDS):
            state.run_key = run_key
        detail = {"plan": plan.name, **({"trusted_keys": state.trusted_keys} if state.trusted_keys else {})}
        if started_by:
            detail["started_by"] = started_by
        if link:
            detail["program"] = link.program
        machine.audit("transition_started", now, detail=detail)
        phases.begin_phase(machine, 0, now)
        machine.advance(now)
        return machine

    # --- the passing of time --------------------------------------------------------------

    def advance(self, now: datetime) -> None:
        """Apply every rule whose time has come: escalations, gates passing, phases ending,
        check-ins, and in steady state settlements, business reviews and the contract's end; then
        ask the people the open gates wait on who have not been asked."""
        self._run_rules(now)
        if self.plan.feeds:
            feeds.schedule(self, now)
        if self.plan.workstreams:
            program.watch(self, now)
        awaiting.request_approvals(self, now)
        objectives.watch(self, now)
        if self.state.raid and self.state.state == "running":  # in steady state too
            raid.watch(self, now)

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The next moment the passing of time alone can change something, reminders included."""
        moments = [super().next_wakeup(now), awaiting.next_reminder(self, now), *deadlines.next_moments(self, now)]
        moments.append(deliveries.next_retry(self))  # notices and audit entries waiting, paused or not
        if self.state.raid and self.state.state == "running":
            moments.append(raid.next_moment(self))
        moments.append(objectives.next_moment(self))
        if self.state.feeds:
            moments.append(feeds.next_moment(self))
        if self.state.evidence_watch:
            moments.append(rechecks.next_moment(self))
        if self.state.delegations:  # a delegation ending changes who is awaited
            moments.append(delegation.next_end(self, now))
        return min((t for t in moments if t is not None), default=None)

    def _run_rules(self, now: datetime) -> None:
        while self.state.state == "running" and (phase := self.phase) is not None:
            phases.check_in(self, phase, now)
            awaiting.remind(self, now)
            phases.escalate(self, phase, now)
            deadlines.watch(self, phase, now)
            gates.check_moving_gates(self, now)
            if not all(is_done(g) for g in self.state.gates):
                return
            if not self.last_wave():
                phases.next_wave(self, now)
                continue
            if phase.min_duration and not self.passed(self.deadline(self.phase_start(), phase.min_duration), now):
                return
            phases.pass_phase(self, phase, now)
        if self.state.state == "running" and self.phase is None:
            ledger.govern(self, now)

    # --- commands ---------------------------------------------------------------------------

    def check(self, command: Command, now: datetime) -> None:
        """Refuse ``command`` with a `Refused` if the rules do not allow it; change nothing.

        A command whose ``request_id`` was already applied is a repeat and always allowed:
        applying it again changes nothing.
        """
        if not self.is_repeat(command):
            registry.check(self, command, now)

    def check_arrival(self, command: Command, now: datetime) -> None:
        """Refuse an update whose signature was made outside the window of ``now``, the time it
        arrives; only the workflow's update validators ask (signals and relays may be late)."""
        if not self.is_repeat(command):
            replays.check_fresh(self, command, now)

    def apply(self, command: Command, now: datetime, pin: EvidencePin | None = None) -> None:
        """Check ``command``, then carry it out and let the rules run on; ``pin`` is an approval's
        evidence as the workflow fetched and kept it."""
        if self.is_repeat(command):
            return
        self.check(command, now)
        if self.changed(SIGNATURES_BOUND):  # remembered by time, not the last 500
            replays.remember(self, command, now)
        elif command.request_id:
            self.state.seen_requests = [*self.state.seen_requests, command.request_id][-MAX_SEEN_REQUESTS:]
        registry.apply(self, command, now, pin)
        if self.state.workstreams:
            program.relay(self, command, now)
        if self.state.program_paused and self.state.state != "paused":  # resumed on its own
            self.state.program_paused = False
        self.advance(now)

    # --- a program and its workstreams ----------------------------------------------------

    def take_starts(self) -> list[str]:
        """The keys of the workstreams to start now, each marked as starting (so taken once)."""
        keys = program.due_to_start(self)
        for key in keys:
            program.starting(self, key)
        return keys

    def workstream_started(self, key: str, now: datetime) -> None:
        """Workstream ``key`` was started."""
        program.started(self, key, now)

    def workstream_failed(self, key: str, reason: str, now: datetime) -> None:
        """Workstream ``key`` could not be started: it never will, and the program escalates."""
        program.block(self, key, reason, now)
        self.advance(now)

    def workstream_changed(self, key: str) -> None:
        """A workstream signalled a change: it is read from Temporal (`take_read`), not believed."""
        program.changed(self, key)

    def take_read(self) -> WorkstreamRead | None:
        """The next workstream to read, taken off the list (a change signalled meanwhile puts it back)."""
        return program.take_read(self)

    def workstream_reported(self, report: WorkstreamReport, now: datetime) -> None:
        """Keep where a workstream stands, as read, and let the rules run on (its gate may pass)."""
        program.reported(self, report, now)
        self.advance(now)

    def apply_relayed(self, relay: Relayed, now: datetime) -> None:
        """Carry out a command of this workstream's program, signed for the program: checked
        against the program's id and run family, and its time against the workstream's start,
        then by the rules as if sent here. A refused one is audited and remembered, like a
        refused signal; a pause of one paused already, or a resume of one the program did not
        pause, leaves it as it is (noted on the trail)."""
        command = program.relayed_command(self, relay)
        if self.is_repeat(command):
            return
        program.relay_decided(self, relay, now)  # taken, left or refused: never taken again
        if not program.takes_relay(self, command, now):
            return
        link = self.state.program
        assert link is not None
        try:
            if self.state.trusted_keys:
                checks.check_signed(self, command, origin=(link.program, link.program_run))
            program.check_relay_time(self, command)
            registry.BY_COMMAND[type(command)].check(self, command, now)
        except Refused as refusal:
            self.refused_signal(RELAY_SIGNAL, command, f"{relay.update}: {refusal}", refusal.kind, now)
            return
        replays.remember(self, command, now)
        self.signed_for = (link.program, link.program_run)
        try:
            registry.apply(self, command, now)
        finally:
            self.signed_for = None
        self.state.program_paused = self.state.state == "paused" and command.update in ("pause", "resume")
        self.advance(now)

    # --- feeds -----------------------------------------------------------------------------

    def take_pulls(self, now: datetime, pulling: set[str]) -> list[FeedPull]:
        """The KPI feed pulls to start now, none of the sources in ``pulling``."""
        return feeds.take(self, now, pulling)

    def pull_started(self, source: str) -> None:
        """A pull of ``source`` began."""
        feeds.started(self, source)

    def feed_pulled(self, asked: FeedPull, result: FeedResult, now: datetime) -> None:
        """Record what a pull brought (or schedule its next try) and let the rules run on."""
        feeds.pulled(self, asked, result, now)
        self.advance(now)

    # --- pinned evidence, checked daily ----------------------------------------------------

    def take_recheck(self, now: datetime) -> RecheckRequest | None:
        """The check of pinned evidence to run now, if one is due."""
        return rechecks.take(self, now)

    def recheck_started(self, now: datetime) -> None:
        """A check of pinned evidence began."""
        rechecks.started(self, now)

    def evidence_rechecked(self, asked: RecheckRequest, result: RecheckResult, now: datetime) -> None:
        """Keep what a check found, telling a change, and let the rules run on."""
        rechecks.rechecked(self, asked, result, now)
        self.advance(now)

    def refused_signal(self, name: str, command: Command | None, refusal: str, kind: str, now: datetime) -> None:
        """A command that came as a signal and was refused: nothing changes but the audit trail
        and a word to its sender, who had no answer to read."""
        by = getattr(command, "by", None)
        detail = {"command": name, "reason": refusal, "refusal": kind}
        if command is not None:  # its row keeps the signed command: never to be taken later
            self.remember_refused(command, now)
        self.audit("signal_refused", now, actor=by, detail=detail, command=command)
        sender = [p for p in self.state.people if p.id == by]
        if sender:
            self.tell("signal_refused", texts.signal_refused(self.plan, name, refusal), sender, now, detail)

    def remember_refused(self, command: Command, now: datetime) -> None:
        """Remember the request id of ``command``, just refused, if a trusted key signed it: a
        command carrying it again is refused (see `workflows.rules.replays`)."""
        replays.remember_refused(self, command, now)

    def is_repeat(self, command: Command) -> bool:
        """Whether ``command`` carries a request id already applied."""
        return replays.is_repeat(self, command)

    # --- status ---------------------------------------------------------------------------

    def options(self, person_id: str, now: datetime | None = None) -> dict[str, list[str]]:
        """For each gate under way, the decisions ``person_id`` may take on it at ``now``."""
        return awaiting.options(self, person_id, now)

    def offered(self, person_id: str, now: datetime | None = None) -> dict[str, list[str]]:
        """Each command besides a gate's decisions ``person_id`` may send at ``now``, and at what."""
        return offered.offered(self, person_id, now)

    def gate_status(self, gate: GateState) -> GateStatus:
        """A gate's progress as a person reads it (``1/2 periods``, ``3/4 items``)."""
        return gates.gate_status(self, gate)

    def status(self, now: datetime, brief: bool = False) -> TransitionStatus:
        """Where the transition stands at ``now``; see `workflows.rules.status.status`."""
        return report.status(self, now, brief)

    def health(self) -> Health:
        """The transition's health; a program's is the worst of its own and its running workstreams'."""
        return program.health(self)

    def details(self, now: datetime) -> str:
        """A short Markdown summary for the Temporal Web UI."""
        return report.details(self, now)
