"""The durable workflow: one per transition, a thin shell around `workflows.rules.Machine`.

It feeds the machine decisions (updates, checked by validators before anything is written),
the passing of time (one timer to the next moment anything can fall due), and carries out what
the machine asks for: audit entries and notifications, through activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.commands import Approve, Command
    from models.constants import EPOCH_MEMO, WORKFLOW_NAME
    from models.evidence import EvidencePin, pinnable
    from models.messages import StartTransition
    from models.plan import Person, Plan
    from models.signing import start_holds
    from models.status import TransitionStatus
    from workflows import feeder
    from workflows.handlers import with_handlers
    from workflows.program import ProgramHandlers, Streams, not_a_workstream
    from workflows.published import search_values, upserts
    from workflows.pump import Flusher, Sender
    from workflows.rechecker import Rechecker
    from workflows.rules import Machine, RefusalKind, Refused
    from workflows.rules.machine import run_key_of
    from workflows.rules.registry import signal_command
    from workflows.rules.replays import stale_start
    from workflows.rules.versions import (
        APPROVAL_REQUESTS,
        EPOCHS_OF,
        EVIDENCE_PINNED,
        FLUSH_BATCHED,
        HISTORY_BUDGETED,
        NEWEST,
        OUTBOX_FLUSH,
        PULLS_SETTLED,
        RULES_EPOCH,
        RUNS_BY_BUDGET,
        SIGNATURES_BOUND,
        START_FRESH,
        UPDATE_ID_REQUESTS,
    )
    from workflows.trail import HISTORY_BUDGET, TrailHandlers

MIN_TIMER = timedelta(seconds=1)


@workflow.defn(name=WORKFLOW_NAME)
@with_handlers
class TransitionWorkflow(ProgramHandlers, TrailHandlers):
    """Runs one transition plan from its first phase into steady state."""

    @workflow.init
    def __init__(self, start: StartTransition) -> None:
        now = workflow.now()
        self._validating = False
        self._asked: dict[str, bool] = {}
        first_run = workflow.info().first_execution_run_id
        self._start_refused: str | None = None
        if start.state is None:
            self.machine = Machine.start(
                start.plan,
                start.id,
                now,
                self._changed,
                start.trusted_keys,
                run_key_of(first_run, self._changed),
                first_run,
                start.started_by,
                start.program,
            )
            if start.program is not None or "/" in start.id:  # a workstream: started by its program only
                self._start_refused = not_a_workstream(start)
            # A start that names keys is signed by one of them: whoever reaches Temporal cannot
            # start a transition in another's name.
            elif start.trusted_keys and self._changed(SIGNATURES_BOUND) and not start_holds(start):
                self._start_refused = "the start is not signed by a key the transition trusts"
            elif start.trusted_keys and self._changed(START_FRESH):
                # Against the moment Temporal wrote the start (in the history, so it replays), not
                # the first task's: a start waiting out a worker's outage is still fresh.
                self._start_refused = stale_start(start.signed_at, workflow.info().workflow_start_time)
        else:  # continued as new: the state carries everything, request ids included
            self.machine = Machine(start.plan, start.state, self._changed)
            # Only this workflow's own continue-as-new carries a state: one started by hand through
            # Temporal's port would carry whatever keys, run family and audit head its maker chose.
            if not workflow.info().continued_run_id:
                self._start_refused = "a start carrying a transition's state is only ever its own continue-as-new"
        # A transition started before signatures named the run family learns it here: the first
        # run's id is the same in every run of it, and reading it records nothing in the history.
        self.machine.state.first_run_id = self.machine.state.first_run_id or first_run
        self._decisions = workflow.metric_meter().create_counter(
            "bpo_decisions", "Decisions accepted, by kind and phase"
        )
        self._changes = 0
        self._answers = 0
        self._answered_at = 0
        """The history's length when the last update was answered: its workflow task's."""
        self._flusher: Flusher | None = None
        self._published: tuple[Any, ...] | None = None

    @workflow.run
    async def run(self, start: StartTransition) -> TransitionStatus:
        """Wait for decisions and deadlines until the transition ends or continues as new."""
        try:
            return await self._run(start)
        except asyncio.CancelledError:  # Temporal's cancel request (the Web UI's "Request Cancellation")
            if self._flusher is not None:
                await self._flusher.before_cancel()
            raise

    async def _run(self, start: StartTransition) -> TransitionStatus:
        if self._start_refused:  # nothing written: the run fails with the reason
            raise ApplicationError(self._start_refused, type="NotSigned")
        if self._changed(RULES_EPOCH):
            # A run begun by this code asks every change it knows while not replaying, so takes
            # every new branch: the memo says which old branches it can never need (bpo versions).
            workflow.upsert_memo({EPOCH_MEMO: NEWEST})
        carrier: Flusher | Sender
        if self._changed(OUTBOX_FLUSH):
            carrier = self._flusher = Flusher(
                self.machine, self._changed, lambda: self._answers, start.flush_after, self._answering
            )
            # Audit entries alone may linger; what the search attributes would change may not.
            carrier.linger_for(start.audit_linger, lambda: self._search_values() != self._published)
        else:
            carrier = Sender(self.machine, self._changed)
        pump = asyncio.create_task(carrier.run())
        pulls = feeder.Feeder(self.machine, self._woke_by_feed)
        asyncio.create_task(pulls.run())
        rechecker = Rechecker(self.machine, self._woke_by_feed)
        asyncio.create_task(rechecker.run())
        streams = Streams(self.machine, start, self._woke_by_feed)
        asyncio.create_task(streams.run())  # idle unless a plan has (or is amended to have) workstreams
        timer: asyncio.Task[None] | None = None
        timer_at: datetime | None = None
        while self.machine.state.state not in ("cancelled", "completed"):
            self._publish()
            now = workflow.now()
            wake = self.machine.next_wakeup(now)
            # Keep the timer while the next deadline stays put: most decisions do not move it, and
            # a timer cancelled and started again for the same moment only lengthens the history.
            if wake != timer_at:
                if timer is not None:
                    timer.cancel()
                timer, timer_at = None, wake
                if wake is not None:
                    timer = asyncio.create_task(workflow.sleep(max(wake - now, MIN_TIMER)))
            await workflow.wait_condition(self._woken(self._changes, carrier, timer))
            if timer is not None and timer.done():
                timer, timer_at = None, None
                self.machine.advance(workflow.now())
            if self._should_continue_as_new():
                if timer is not None and self._changed(HISTORY_BUDGETED):
                    timer.cancel()  # a run that ends with a timer pending confuses the test server
                    timer, timer_at = None, None
                await rechecker.settled()  # a check started in this turn is kept, not lost
                if self._changed(PULLS_SETTLED):  # and a pull: its activity may not outlive the run
                    await pulls.settled()
                await self._settle(streams)
                await self._drain(carrier, pump, ending=False)
                self._continue_as_new(start)
        await rechecker.settled()
        await self._settle(streams)
        self._publish()
        if await self._drain(carrier, pump, ending=True):  # its last retries outlast the run's budget
            self._continue_as_new(start)
        if self._flusher and self._changed(FLUSH_BATCHED):  # what waited with the last flush
            self._publish()
        return self.machine.status(workflow.now())

    async def _settle(self, streams: Streams) -> None:
        """Let a program's starts, relays and reads, or a workstream's report, finish before the
        run ends (a transition with none of these awaits nothing, as it never did)."""
        if streams.pending():
            await streams.settled()

    def _continue_as_new(self, start: StartTransition) -> None:
        state = self.machine.state.model_copy(update={"runs": self.machine.state.runs + 1})
        workflow.continue_as_new(
            StartTransition(
                id=start.id,
                plan=self.machine.plan,
                state=state,
                flush_after=start.flush_after,
                audit_linger=start.audit_linger,
            )
        )

    def _answering(self) -> bool:
        """Whether an update was answered in the workflow task under way."""
        return self._answered_at == workflow.info().get_current_history_length()

    def _over_budget(self) -> bool:
        return workflow.info().get_current_history_length() >= HISTORY_BUDGET and self._changed(HISTORY_BUDGETED)

    def _woken(self, seen: int, carrier: Flusher | Sender, timer: asyncio.Task[None] | None) -> Callable[[], bool]:
        """Whether a decision arrived since ``seen``, the outbox settled a flush (which may move
        the next retry) or ``timer`` fired: the loop's wake-up."""
        turns = carrier.turns
        return lambda: self._changes != seen or carrier.turns != turns or (timer is not None and timer.done())

    def _should_continue_as_new(self) -> bool:
        """When a run's history reaches its budget (or, before that change, at a settled
        period's boundary), or when Temporal says the history grows long."""
        if self.machine.state.state in ("cancelled", "completed"):
            return False
        closed, self.machine.period_closed = self.machine.period_closed, False
        if closed and self._changed(RUNS_BY_BUDGET):
            closed = False
        return self._over_budget() or closed or workflow.info().is_continue_as_new_suggested()

    async def _drain(self, carrier: Flusher | Sender, pump: asyncio.Task[None], ending: bool) -> bool:
        """Let every handler finish and every audit entry and notification go out (or, at a
        continue-as-new, wait in the carried state for its next try). True when an ended
        transition's retries outlast the run's budget: it continues as new to finish them."""
        if isinstance(carrier, Flusher):
            return await carrier.drain(ending, self._over_budget)
        await carrier.drain(pump)
        return False

    # --- decisions ------------------------------------------------------------------------

    def _changed(self, change: str) -> bool:
        """The rules' versioning seam. Validators never replay, so the newest rules hold there
        (and `workflow.patched` may not be called in them); handlers and timers ask it, so a
        history recorded before a change replays on the old path."""
        if self._validating:
            return True
        # An epoch's marker answers for the changes it covers, the newest epoch asked first (a run
        # begun today records only it); a history from before an epoch has none of its marker,
        # and asks the older epoch or the change on its own, as it did when it was recorded.
        # The SDK answers each id the same for the rest of the run once asked: remembered here, a
        # decision's many asks of one change no longer each reach into the SDK.
        if (known := self._asked.get(change)) is not None:
            return known
        applied = any(workflow.patched(e) for e in EPOCHS_OF.get(change, ())) or workflow.patched(change)
        self._asked[change] = applied
        return applied

    def _check(self, command: Command) -> None:
        self._validating = True
        try:
            self.machine.check(command, workflow.now())
            self.machine.check_arrival(command, workflow.now())  # the time the update arrives
        except Refused as refusal:
            raise ApplicationError(str(refusal), type=refusal.kind, non_retryable=True) from None
        finally:
            self._validating = False

    def _woke_by_feed(self) -> None:
        self._changes += 1

    def _apply(self, command: Command, pin: EvidencePin | None = None) -> TransitionStatus:
        now = workflow.now()
        update = workflow.current_update_info()
        if not command.request_id and update is not None and self._changed(UPDATE_ID_REQUESTS):
            # Temporal's own update id makes a retried update count once, even across runs.
            command = command.model_copy(update={"request_id": f"update:{update.id}"[:100]})
        if self.machine.is_repeat(command):  # answered, and nothing written or counted again
            return self.machine.status(now, brief=True)
        try:
            self.machine.apply(command, now, pin)
        except Refused as refusal:  # the state changed since the validator ran
            self.machine.remember_refused(command, now)  # the history keeps the signed command
            raise ApplicationError(str(refusal), type=refusal.kind, non_retryable=True) from None
        self._changes += 1
        self._answers += 1
        self._answered_at = workflow.info().get_current_history_length()
        self._decisions.add(1, {"kind": type(command).__name__.lower(), "phase": self.machine.phase_key})
        workflow.logger.info("decision", extra={"command": type(command).__name__, "phase": self.machine.phase_key})
        return self.machine.status(now, brief=True)

    @workflow.update(name=Approve.update, description=Approve.__doc__)
    async def approve(self, command: Approve) -> TransitionStatus:
        """Approve an approval gate; evidence at a URL (or uploaded) is first fetched and pinned."""
        pin = None
        if pinnable(command.evidence) and not self.machine.is_repeat(command) and self._changed(EVIDENCE_PINNED):
            pin = await self._pin(command)
        return self._apply(command, pin)

    @approve.validator
    def _approve_allowed(self, command: Approve) -> None:
        self._check(command)

    async def _pin(self, command: Approve) -> EvidencePin | None:
        """The evidence's pin; an approval whose evidence is refused, or is required and cannot be
        fetched, is refused with the reason (nothing is recorded)."""
        assert command.evidence is not None
        result = await feeder.pin(self.machine.state.id, command.gate, command.evidence)
        if result.pin is not None:
            return result.pin
        phase = self.machine.phase
        spec = phase.gate(command.gate) if phase else None
        if result.refused or getattr(spec, "evidence", None) == "required":
            raise ApplicationError(
                f"{result.problem}; the approval is not recorded", type=RefusalKind.EVIDENCE_REFUSED, non_retryable=True
            )
        return None

    @workflow.signal(dynamic=True)
    def command_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every command also as a signal of the same name, for callers that do not wait for an
        answer (the Web UI's "Send Signal", integrations). The same rules, signature and request
        id apply when it is processed; a refused one changes nothing but is audited, and its
        sender told."""
        now = workflow.now()
        command: Command | None = None
        try:
            # The same refusal as before for a name no command has; one taken only as an update
            # (new since every recorded history) says to send it as one.
            command_type = signal_command(name)
            if len(args) != 1:
                raise Refused(f"a {name} signal carries one {command_type.__name__}", RefusalKind.BAD_INPUT)
            command = workflow.payload_converter().from_payload(args[0].payload, command_type)
            if not self.machine.is_repeat(command):
                self.machine.apply(command, now)
        except Refused as refusal:
            self.machine.refused_signal(name, command, str(refusal), refusal.kind, now)
        except Exception as error:  # undecodable input: the sender's mistake, not a bug to retry
            if command is not None:
                raise
            self.machine.refused_signal(
                name, None, f"not a {name} command: {str(error)[:300]}", RefusalKind.BAD_INPUT, now
            )
        self._changes += 1

    @workflow.query
    def status(self) -> TransitionStatus:
        """Where the transition stands now."""
        return self.machine.status(workflow.now())

    @workflow.query
    def options(self, person_id: str) -> dict[str, list[str]]:
        """For each gate under way, the decisions ``person_id`` may take on it now."""
        return self.machine.options(person_id, workflow.now())

    @workflow.query
    def offered(self, person_id: str) -> dict[str, list[str]]:
        """The commands besides a gate's decisions ``person_id`` may send now, and at what."""
        self._validating = True  # a query may not ask `workflow.patched`: the newest rules answer
        try:
            return self.machine.offered(person_id, workflow.now())
        finally:
            self._validating = False

    @workflow.query
    def roster(self) -> list[Person]:
        """The people on the roster now, with any changes made since the start."""
        return self.machine.state.people

    @workflow.query
    def plan(self) -> Plan:
        """The plan the transition runs, for reports and calendars."""
        return self.machine.plan

    def _search_values(self) -> tuple[Any, ...]:
        return search_values(self.machine, workflow.now(), self._changed(APPROVAL_REQUESTS))

    def _publish(self) -> None:
        """Keep the search attributes and the Web UI's details in step with the state."""
        workflow.set_current_details(self.machine.details(workflow.now()))
        if self._flusher and self._flusher.holding:  # upserted with the flush, once for them all
            return
        if (current := self._search_values()) != self._published:
            self._published = current
            workflow.upsert_search_attributes(upserts(current))
