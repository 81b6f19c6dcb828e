"""An amendment on the time-skipping server: proposed, approved by the sponsor, run on from the
current point, carried across a continue-as-new, and replayed from its history."""

from __future__ import annotations

from datetime import timedelta

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bpo.api import get_plan
from bpo.sandbox import SANDBOX
from models.commands import Amend, Approve
from tests.driver import DANA, LI
from tests.rules.test_amendment_rules import EXTRA_GATE, version
from workflows.transition import TransitionWorkflow

KICKOFF = (
    "      - key: kickoff_held\n        kind: approval\n        approvers: {roles: [point_of_contact], rule: all}\n"
    "        evidence: required\n"
)


async def test_an_amendment_runs_after_the_sponsors_approval_and_survives_continue_as_new_and_replay(t):
    ahead = version(("    due: 10d\n", "    due: 20d\n"), (KICKOFF, EXTRA_GATE))
    status = await t.do(Amend(plan=ahead, reason="the client asked for a site visit", by=LI))
    assert status.amendments[0].status == "proposed"
    status = await t.pass_phase("planning")
    assert [g.key for g in status.gates] == ["team_assigned", "kickoff_held"], "nothing changes before the approval"
    status = await t.do(Approve(gate="amendment_1", by=DANA, note="agreed in steering"))
    assert "site_visit" in [g.key for g in status.gates]
    assert status.phase_due_at - status.phase_started_at == timedelta(days=20)
    await t.approve("site_visit", DANA)
    await t.reach("steady_state")
    for _ in range(12):  # steady-state quarters, until the run's history reaches its budget
        await t.sleep(days=91)
        if (status := await t.status()).runs > 1:
            break
    assert status.runs > 1 and status.amendments[0].status == "approved"
    assert (await get_plan(t.client, t.id)) == ahead, "the new run carries the amended plan"
    first = (await t.client.get_workflow_handle(t.id).describe()).raw_description.workflow_execution_info
    history = await t.client.get_workflow_handle(t.id, run_id=first.first_run_id).fetch_history()
    replayer = Replayer(workflows=[TransitionWorkflow], data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    await replayer.replay_workflow(history)
