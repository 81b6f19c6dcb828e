"""Drive a transition through the `bpo.api` functions the `bpo` command uses, on any server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bpo.api import BpoError, audit_settled, get_status, send, start_transition
from models.commands import Approve, RecordReadings, Reject, Tick, Waive
from models.plan import Plan
from models.status import TransitionStatus
from tests.stack import DANA, EVE, LI, MO, RAJ

GOOD = {"csat": 90.0, "error_rate": 1.5, "first_response_hours": 3.0, "fcr": 75.0}


@dataclass
class Driver:
    env: WorkflowEnvironment
    client: Client
    id: str

    @classmethod
    async def start(cls, env: WorkflowEnvironment, plan: Plan, task_queue: str) -> Driver:
        tid = await start_transition(
            env.client, plan, task_queue=task_queue, transition_id=f"t-{uuid.uuid4().hex[:12]}"
        )
        return cls(env, env.client, tid)

    async def do(self, command: Any) -> TransitionStatus:
        return await send(self.client, self.id, command)

    async def refused(self, command: Any, kind: str) -> str:
        with pytest.raises(BpoError) as caught:
            await self.do(command)
        assert caught.value.kind == kind, str(caught.value)
        return str(caught.value)

    async def status(self) -> TransitionStatus:
        return await get_status(self.client, self.id)

    async def settled(self) -> TransitionStatus:
        """Where the transition stands once what it accepted is in the audit table (its
        ``audit_head`` moves with each flush, which may land after a status read)."""
        assert await audit_settled(self.client, self.id, 30) == 0, "the trail did not settle"
        return await self.status()

    async def sleep(self, **kwargs: float) -> None:
        await self.env.sleep(timedelta(**kwargs))

    async def approve(self, gate: str, *people: str, evidence: str | None = None) -> TransitionStatus:
        status = None
        for person in people:
            status = await self.do(Approve(gate=gate, by=person, evidence=evidence))
        assert status is not None
        return status

    async def tick(self, gate: str, by: str, *items: str) -> TransitionStatus:
        status = None
        for item in items:
            status = await self.do(Tick(gate=gate, item=item, by=by))
        assert status is not None
        return status

    async def read(self, period: str, **values: float) -> TransitionStatus:
        return await self.do(RecordReadings(period=period, values=values, by=LI))

    async def reject(self, gate: str, by: str, reason: str = "not good enough") -> TransitionStatus:
        return await self.do(Reject(gate=gate, by=by, reason=reason))

    async def waive(self, gate: str, by: str, reason: str = "agreed in steering committee") -> TransitionStatus:
        return await self.do(Waive(gate=gate, by=by, reason=reason))

    def gate(self, status: TransitionStatus, key: str) -> Any:
        return next(g for g in status.gates if g.key == key)

    # --- whole phases of the reference plan ------------------------------------------------

    async def pass_phase(self, key: str, wave_periods: int = 0) -> TransitionStatus:
        """Meet every gate of reference-plan phase ``key`` (min_duration is left to the caller)."""
        if key == "planning":
            await self.approve("gap_analysis_approved", LI)
            await self.approve("slas_signed", DANA, RAJ)
            return await self.tick(
                "governance_defined", LI, "raci", "escalation_matrix", "communication_protocol", "knowledge_base"
            )
        if key == "mobilization":
            return await self.approve("kickoff_held", LI, RAJ, evidence="minutes KO-2027-01 in the DMS")
        if key == "knowledge_transfer":
            await self.tick("process_maps", EVE, "email_support", "chat_support")
            await self.approve("training_signed_off", MO, EVE)
            return await self.read(await self._label("cert-1"), assessment_score=86)
        if key == "pilot":
            await self.read(await self._label("P1"), **{k: v for k, v in GOOD.items() if k != "fcr"})
            await self.read(await self._label("P2"), **{k: v for k, v in GOOD.items() if k != "fcr"})
            return await self.approve("pilot_go", DANA)
        if key == "ramp_wave":
            await self.read(await self._label(f"R{wave_periods}"), **GOOD)
            return await self.approve("wave_approved", LI, RAJ)
        if key == "hypercare":
            await self.tick(
                "integration_done",
                LI,
                "shared_calendar",
                "collaboration_tools",
                "cultural_orientation",
                "feedback_channel",
            )
            await self.read(await self._label("H1"), **GOOD)
            await self.read(await self._label("H2"), **GOOD)
            return await self.approve("hypercare_exit", DANA, RAJ)
        raise AssertionError(key)

    async def _label(self, period: str) -> str:
        """``period`` as the phase's first attempt names it; a phase done again after a rework
        reads periods of its own, since a reading recorded for a label stands."""
        attempt = (await self.status()).history[-1].attempt
        return period if attempt == 1 else f"{period}-a{attempt}"

    async def reach(self, target: str) -> TransitionStatus:
        """Pass every phase before ``target``, waiting out min_durations."""
        status = await self.status()
        while status.phase != target:
            if status.phase == "ramp":
                for wave in range(3):
                    status = await self.pass_phase("ramp_wave", wave)
            else:
                status = await self.pass_phase(status.phase)
            if (
                status.earliest_pass_at
                and status.phase != "steady_state"
                and all(g.status != "open" for g in status.gates)
            ):
                now = await self.env.get_current_time()
                await self.sleep(seconds=(status.earliest_pass_at - now).total_seconds() + 60)
            status = await self.status()
        return status
