"""The workflow's side of programs: a program starts its workstreams and relays commands to them;
a workstream reports to its program. The rules of both are `workflows.rules.program`'s.

Each workstream is a child workflow with ``ParentClosePolicy.ABANDON``: Temporal applies a
child's parent-close policy when the parent continues as new (temporalio/temporal#3666), so any
other policy would end every workstream at the program's first continue-as-new. Once started,
program and workstream know each other by id only and talk by signals, which reach the newest
run of either whatever runs came between (docs/semantics.md, "Workstreams").

Neither believes the other's signal: a program reads a workstream that says it changed from
Temporal (``read_workstream``), and a workstream takes a relayed command only once its own
program confirms, by a query through ``confirm_relay``, that it relayed that command to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from models.constants import WORKFLOW_NAME
    from models.messages import StartTransition
    from models.program import (
        RELAY_SIGNAL,
        RELAYS_QUERY,
        REPORT_SIGNAL,
        ProgramLink,
        RelayAnswer,
        RelayAsk,
        Relayed,
        WorkstreamRead,
        WorkstreamReport,
        relay_key,
    )
    from models.workstreams import phases_of, workstream_id, workstream_plan
    from workflows.rules import Machine, RefusalKind, Refused
    from workflows.rules.program import (
        confirms,
        due_to_start,
        relay_arrived,
        relay_decided,
        relayed_command,
        report,
    )
    from workflows.rules.versions import RELAY_CONFIRMED, RELAY_REMEMBERED
    from workflows.search import SA_CLIENT, SA_HEALTH, SA_PHASE, SA_PROGRAM, SA_PROVIDER, SA_STATE

READ_TIMEOUT = timedelta(seconds=15)
"""A read of a workstream, or a workstream's question to its program (a describe and a query), is
tried again until Temporal answers; a try lost with a killed worker is given up after this long,
so a relayed pause waits no longer than that to take hold (it waited 30 s before). Longer than
the 10 s a query may wait for a killed worker's sticky queue before the server asks another."""


class Streams:
    """A program's workstreams (started, relayed to) or a workstream's reports to its program."""

    def __init__(self, machine: Machine, start: StartTransition, woke: Callable[[], None]) -> None:
        self.machine = machine
        self.start = start
        self.woke = woke
        self.busy = False
        self.last: WorkstreamReport | None = None

    def _work(self) -> bool:
        m = self.machine
        if m.state.program is not None:
            return bool(m.state.relays_in) or self._report() != self.last
        return bool(m.state.relays) or bool(m.state.reads) or bool(m.plan.workstreams and due_to_start(m))

    def _report(self) -> WorkstreamReport:
        return report(self.machine, workflow.now()).model_copy(update={"seq": 1})

    async def run(self) -> None:
        """Start, relay and report whatever the rules say, for as long as the transition runs."""
        while True:
            await workflow.wait_condition(self._work)
            self.busy = True
            try:
                if self.machine.state.program is not None:
                    await self._confirm_held()
                    if self._report() != self.last:
                        await self._send_report()
                else:
                    for key in self.machine.take_starts():
                        await self._start(key)
                    while self.machine.state.relays:
                        await self._relay(self.machine.state.relays[0])
                        self.machine.state.relays = self.machine.state.relays[1:]
                    while (read := self.machine.take_read()) is not None:
                        await self._read(read)
            finally:
                self.busy = False
            self.woke()

    def pending(self) -> bool:
        """Whether anything is under way or due: a start, a relay, a read or a report."""
        return self.busy or self._work()

    async def settled(self) -> None:
        """Wait until nothing is left to start, relay or report (before a run ends)."""
        await workflow.wait_condition(lambda: not self.busy and not self._work())

    async def _start(self, key: str) -> None:
        m, now = self.machine, workflow.now()
        stream_id = workstream_id(m.state.id, key)
        plan = workstream_plan(m.plan, key).model_copy(update={"people": list(m.state.people)})
        link = ProgramLink(program=m.state.id, key=key, program_run=m.state.first_run_id, since=now)
        start = StartTransition(
            id=stream_id,
            plan=plan,
            trusted_keys=list(m.state.trusted_keys),
            started_by=f"program {m.state.id}",
            flush_after=self.start.flush_after,
            audit_linger=self.start.audit_linger,
            program=link,
        )
        known = workflow.info().typed_search_attributes
        named = [SearchAttributePair(k, v) for k in (SA_CLIENT, SA_PROVIDER) if (v := known.get(k)) is not None]
        try:
            await workflow.start_child_workflow(
                WORKFLOW_NAME,
                start,
                id=stream_id,
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                search_attributes=TypedSearchAttributes(
                    [
                        *named,
                        SearchAttributePair(SA_PROGRAM, m.state.id),
                        SearchAttributePair(SA_PHASE, phases_of(m.plan, key)[0].key),
                        SearchAttributePair(SA_HEALTH, "on_track"),
                        SearchAttributePair(SA_STATE, "running"),
                    ]
                ),
                static_summary=f"Workstream {plan.name}"[:200],
            )
        except Exception as error:  # an id in use by a run still going, a refused start
            workflow.logger.warning("workstream_not_started", extra={"workstream": key, "error": str(error)})
            m.workstream_failed(key, f"it could not be started ({type(error).__name__})", now)
            return
        m.workstream_started(key, now)

    async def _read(self, read: WorkstreamRead) -> None:
        found = await workflow.execute_activity(
            "read_workstream",
            read,
            result_type=WorkstreamReport | None,  # type: ignore[arg-type]
            start_to_close_timeout=READ_TIMEOUT,
        )
        if found is not None:
            self.machine.workstream_reported(found, workflow.now())

    async def _relay(self, relay: Relayed) -> None:
        for target in relay.to:
            try:
                await workflow.get_external_workflow_handle(target).signal(RELAY_SIGNAL, relay)
            except Exception as error:  # it ended meanwhile: nothing left to tell it
                workflow.logger.info("relay_not_delivered", extra={"workstream": target, "error": str(error)})

    async def _confirm_held(self) -> None:
        """Ask about the relays held when this round began; those coming meanwhile wait for the
        next round, after the report, so a flooded queue never holds the report back."""
        m = self.machine
        if not m.state.relays_in:
            return
        if not m.changed(RELAY_REMEMBERED):  # as before: every relay, however many keep coming
            while m.state.relays_in:
                await self._confirm(m.state.relays_in[0])
            return
        for _ in range(len(m.state.relays_in)):
            await self._confirm(m.state.relays_in[0])

    async def _confirm(self, relay: Relayed) -> None:
        """Take a relay held since it came once this workstream's own program (the one that
        started it, never one the signal names) says it relayed it here; refuse it otherwise."""
        m = self.machine
        link = m.state.program
        assert link is not None
        ask = RelayAsk(program=link.program, program_run=link.program_run, workstream=m.state.id, key=relay_key(relay))
        answer = await workflow.execute_activity(
            "confirm_relay", ask, result_type=RelayAnswer, start_to_close_timeout=READ_TIMEOUT
        )
        m.state.relays_in = m.state.relays_in[1:]
        now = workflow.now()
        if answer.confirmed:
            m.apply_relayed(relay, now)
            return
        relay_decided(m, relay, now)  # refused: a copy sent later is refused as a repeat
        command = relayed_command(m, relay)  # it was one when it came
        reason = f"{relay.update}: {answer.reason or 'its program did not relay it here'}; not taken"
        m.refused_signal(RELAY_SIGNAL, command, reason, RefusalKind.REPLAYED, now)

    async def _send_report(self) -> None:
        m = self.machine
        link = m.state.program
        assert link is not None
        current = self._report()
        m.state.reported += 1
        sent = current.model_copy(update={"seq": m.state.reported})
        try:
            await workflow.get_external_workflow_handle(link.program).signal(REPORT_SIGNAL, sent)
        except Exception as error:  # the program ended: it reads no more reports
            workflow.logger.info("report_not_delivered", extra={"program": link.program, "error": str(error)})
        self.last = current


class ProgramHandlers:
    """The transition workflow's signals and query between a program and its workstreams: a
    workstream's report, a program's relay, and the program's answer to a workstream asking
    whether it relayed a command there (`confirm_relay`)."""

    machine: Machine
    _changes: int
    _changed: Callable[[str], bool]

    @workflow.signal(name=REPORT_SIGNAL)
    def workstream_report(self, report: WorkstreamReport) -> None:
        """A workstream of this program says it changed: the program reads it from Temporal
        (`workflows.program`); what the signal says is not taken for true."""
        self.machine.workstream_changed(report.key)
        self._changes += 1

    @workflow.signal(name=RELAY_SIGNAL)
    def program_relay(self, relay: Relayed) -> None:
        """This workstream's program relays a command signed for the program: held until the
        program confirms it sent it (`workflows.program`), then checked against the program's id
        and keys; a refused one is audited, like a refused signal."""
        now = workflow.now()
        try:
            if self._changed(RELAY_CONFIRMED):
                relay_arrived(self.machine, relay)
            else:
                self.machine.apply_relayed(relay, now)
        except Refused as refusal:  # not a relay this workstream takes at all
            self.machine.refused_signal(RELAY_SIGNAL, None, f"{relay.update}: {refusal}", refusal.kind, now)
        except ValueError as error:  # not a command: the relay is refused, nothing changes
            reason = f"{relay.update}: not a command ({str(error)[:300]})"
            self.machine.refused_signal(RELAY_SIGNAL, None, reason, RefusalKind.BAD_INPUT, now)
        self._changes += 1

    @workflow.query(name=RELAYS_QUERY)
    def relayed_to(self, ask: RelayAsk) -> RelayAnswer:
        """Whether this program relayed command ``ask.key`` to workstream ``ask.workstream``."""
        return confirms(self.machine, ask)


def not_a_workstream(start: StartTransition) -> str | None:
    """Why a start naming a program is refused: only that program starts its workstreams (Temporal
    names the parent of a child workflow; nobody else can)."""
    link, parent = start.program, workflow.info().parent
    if link is None:
        return "an id with '/' names a workstream, which only its program starts"
    if parent is None or parent.workflow_id != link.program or start.id != f"{link.program}/{link.key}":
        return "a workstream is started by its program only"
    return None
