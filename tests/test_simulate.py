"""`bpo simulate`: the forecast of a plan on the time-skipping server, checked against the same
decisions taken at the same moments by the rules alone."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

from bpo.simulate import decision_time, decisions, simulate
from models.plan_loader import load_plan
from tests.conftest import REFERENCE_PLAN
from tests.rules.sim import Run
from tests.stack import BPO


def rules_alone(plan, started, share: float):
    """The go-live the rules reach with every gate decided at ``share`` of its due time."""
    run, seen = Run(plan, start=started), None
    while (status := run.status()).phase != "steady_state":
        phase = next(p for p in plan.phases if p.key == status.phase)
        key = (status.phase, status.reworks, status.wave or 0)
        if key == seen:
            assert all(g.status != "open" for g in status.gates) and status.earliest_pass_at, status.gates
            run.later(seconds=(status.earliest_pass_at - run.now).total_seconds() + 5)
            continue
        seen = key
        when = decision_time(plan, phase, status.phase_started_at, share, (status.wave or 1) - 1)
        if when > run.now:
            run.later(seconds=(when - run.now).total_seconds())
        for command in decisions(plan, run.status(), (status.wave or 1) - 1):
            run.do(command)
    return status.phase_started_at


async def test_the_forecast_go_live_is_where_the_rules_alone_arrive():
    plan = load_plan(REFERENCE_PLAN, env={}).plan
    forecast = await simulate(plan, decide_at=0.5, years=1)
    assert forecast.go_live is not None and forecast.stuck is None
    expected = rules_alone(plan, forecast.started, 0.5)
    assert abs(forecast.go_live - expected) < timedelta(minutes=1)
    assert [p.phase for p in forecast.phases] == [p.key for p in plan.phases]
    assert all(p.passed and p.due and p.passed <= p.due for p in forecast.phases), "decided at half time: none late"
    assert forecast.settlements == 12 and not forecast.escalations
    assert forecast.notices["approval_requested"] > 0 and forecast.largest_run < 400


async def test_decisions_late_in_their_phase_forecast_the_escalations_they_would_cause():
    plan = load_plan(REFERENCE_PLAN, env={}).plan
    forecast = await simulate(plan, decide_at=1.5, years=0)
    assert any("planning level 1" in e for e in forecast.escalations)
    assert any(p.passed and p.due and p.passed > p.due for p in forecast.phases)


def test_bpo_simulate_prints_the_forecast_and_refuses_a_bad_share():
    done = subprocess.run(
        [*BPO, "simulate", str(REFERENCE_PLAN), "--years", "1"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Go-live:" in done.stdout and "planning" in done.stdout and "settlements" in done.stdout
    bad = subprocess.run([*BPO, "simulate", str(REFERENCE_PLAN), "--decide-at", "half"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--decide-at: 'half' is not a share" in bad.stderr


def test_bpo_simulate_leaves_the_deployments_audit_database_alone(tmp_path: Path):
    audit = tmp_path / "deployment-audit.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{audit}"}
    done = subprocess.run(
        [*BPO, "simulate", str(REFERENCE_PLAN), "--years", "1"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "12 settlements" in done.stdout, done.stdout
    assert not audit.exists(), "the forecast wrote its trail into the deployment's audit database"
