"""The program's activity: read a workstream's status from Temporal itself, so that what the
program records of its workstreams is what they are, not what a signal says they are.

A `workstream_report` signal only tells the program that a workstream changed: anyone who can
reach Temporal's port could send one. The program then asks Temporal here, through the worker's
own client, for the workflow under the workstream's id; it takes the answer only from a run of
the transition workflow whose parent is the program (Temporal records the parent of a child
workflow, and keeps it across continue-as-new).
"""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.constants import WORKFLOW_NAME
from models.program import WorkstreamRead, WorkstreamReport
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
