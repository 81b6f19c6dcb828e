"""The program's activity: read a workstream's status from Temporal itself, so that what the
program records of its workstreams is what they are, not what a signal says they are.

A `workstream_report` signal only tells the program that a workstream changed: anyone who can
reach Temporal's port could send one. The program then asks Temporal here, through the worker's
own client, for the workflow under the workstream's id; it takes the answer only from a run of
the transition workflow whose parent is the program (Temporal records the parent of a child
workflow, and keeps it across continue-as-new).

A ``program_relay`` signal is not believed either: before a workstream takes a relayed command it
asks here whether its program relayed that command to it. The question goes to the program the
workstream was started by (its own link, which Temporal's parent record confirms), never to one
a signal names, and the program answers from its own record of the relays it sent.
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from models.constants import WORKFLOW_NAME
from models.program import RELAYS_QUERY, RelayAnswer, RelayAsk, WorkstreamRead, WorkstreamReport
from models.status import TransitionStatus

log = structlog.get_logger(__name__)


class ProgramActivities:
    """Reads workstreams for the worker, with its Temporal client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @activity.defn(name="read_workstream")
    async def read(self, ask: WorkstreamRead) -> WorkstreamReport | None:
        """Where workstream ``ask.key`` of ``ask.program`` stands, as its own workflow answers; None
        when no run of the program's workstream goes by that id."""
        handle = self.client.get_workflow_handle(f"{ask.program}/{ask.key}")
        try:
            described = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise  # Temporal away: tried again
        if described.workflow_type != WORKFLOW_NAME or described.parent_id != ask.program:
            log.warning("workstream_impostor", transition_id=ask.program, workstream=ask.key)
            return None
        status = await handle.query("status", result_type=TransitionStatus)
        if status.state not in ("running", "paused", "completed", "cancelled") or status.program != ask.program:
            return None
        return WorkstreamReport(
            key=ask.key,
            seq=ask.seq,
            state=status.state,
            phase=status.phase,
            passed=list(dict.fromkeys(run.phase for run in status.history if run.outcome == "passed")),
            health=status.health,
            next_due=status.phase_due_at,
            waiting_for=[g.key for g in status.gates if g.status in ("open", "rejected")][:50],
        )

    @activity.defn(name="confirm_relay")
    async def confirm_relay(self, ask: RelayAsk) -> RelayAnswer:
        """Whether program ``ask.program`` relayed command ``ask.key`` to the workstream asking,
        as the program's own workflow answers; a program that is not there, is not the
        workstream's parent, or cannot answer confirms nothing."""
        caller = activity.info().workflow_id
        if caller != ask.workstream:  # the workstream asks for itself only
            return RelayAnswer(confirmed=False, reason="a workstream asks its program about itself only")
        try:
            itself = await self.client.get_workflow_handle(caller).describe()
            program = self.client.get_workflow_handle(ask.program)
            described = await program.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return RelayAnswer(confirmed=False, reason="its program is not found in Temporal")
            raise  # Temporal away: tried again
        if itself.parent_id != ask.program or described.workflow_type != WORKFLOW_NAME:
            log.warning("relay_program_mismatch", transition_id=caller, program=ask.program)
            return RelayAnswer(confirmed=False, reason="the program asked is not the one that started this workstream")
        try:
            answer = await program.query(RELAYS_QUERY, ask, result_type=RelayAnswer)
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
            log.warning("relay_not_confirmed", transition_id=caller, program=ask.program, error=str(error)[:300])
            return RelayAnswer(confirmed=False, reason="its program could not say whether it relayed this command")
        log.info("relay_confirmed" if answer.confirmed else "relay_refused", transition_id=caller, key=ask.key)
        return answer
