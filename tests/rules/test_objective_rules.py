"""Objectives against their KPIs: met, on track, missed, and the sponsors told once when one is
missed at its due date."""

from __future__ import annotations

from models.commands import RecordReadings
from tests.rules.sim import DANA, LI, Run


def standing(run: Run) -> dict[str, tuple[str, float | None]]:
    return {o.key: (o.state, o.value) for o in run.status().objectives}


def test_objectives_follow_the_latest_reading_of_their_kpi_in_any_phase():
    run = Run()
    assert standing(run) == {"cost_per_contact": ("no data", None), "csat": ("no data", None)}
    run.reach_pilot()
    run.do(RecordReadings(period="W1", values={"csat": 86.0, "cost_per_contact": 3.7}, by=LI))
    assert standing(run) == {"cost_per_contact": ("met", 3.7), "csat": ("on track", 86.0)}


def test_an_objective_unmet_at_its_due_date_is_told_to_the_sponsors_once():
    run = Run()  # 2027-01-04; the csat objective (88) is due 2027-06-30, cost per contact 2027-09-30
    run.reach_pilot()
    run.do(RecordReadings(period="W1", values={"csat": 86.0, "cost_per_contact": 3.7}, by=LI))
    run.later(days=178)  # 2027-07-01 past midnight
    (told,) = run.sent("objective_missed")
    assert [r.id for r in told.recipients] == [DANA] and "csat" in told.subject
    assert standing(run)["csat"][0] == "missed"
    run.later(days=120)  # past the cost objective's date too: it was met, so nobody is told
    assert len(run.sent("objective_missed")) == 1


def test_transitions_started_before_objectives_were_tracked_tell_nobody():
    run = Run(patched=lambda change: change != "objectives-2026-11")
    run.reach_pilot()
    run.later(days=200)
    assert not run.sent("objective_missed")
