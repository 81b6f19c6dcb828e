"""Steady-state governance over three contract years, on the time-skipping server."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from infra.audit import read_trail
from infra.db import make_engine
from models.commands import RecordReadings
from models.plan_loader import parse_plan
from models.status import TransitionStatus
from tests.conftest import REFERENCE_PLAN
from tests.driver import LI
from workflows.transition import TransitionWorkflow

FEE = 180_000
MET = {"csat": 90.0, "error_rate": 1.5, "first_response_hours": 3.0}
# Per period: the readings sent (label, values) and the settlement worked out by hand.
# Credits: csat 3%, error_rate 4%, first_response_hours 2%, capped at 8% in this test;
# bonus: csat of at least 92 earns 1.5%.
SCENARIOS = {
    1: ([("M1", MET)], {"csat": "met", "error_rate": "met", "first_response_hours": "met"}, 0.0, 0.0),
    2: (
        [("M2", {"csat": 80, "error_rate": 2.5, "first_response_hours": 5})],
        {"csat": "missed", "error_rate": "missed", "first_response_hours": "missed"},
        FEE * 0.08,  # 3 + 4 + 2 = 9%, capped at 8%
        0.0,
    ),
    3: (
        [("M3", {"csat": 93, "error_rate": 1.0})],
        {"csat": "met", "error_rate": "met", "first_response_hours": "no data"},
        0.0,
        FEE * 0.015,
    ),
    4: (  # a corrected reading: csat 80 for M4, then corrected to 90 with a reason
        [("M4", {"csat": 80, "error_rate": 1.0, "first_response_hours": 2}), ("M4", {"csat": 90}, "typo")],
        {"csat": "met", "error_rate": "met", "first_response_hours": "met"},
        0.0,
        0.0,
    ),
    5: (  # two weekly labels in one period: csat is their mean, 86, which meets the SLA of 85
        [("W1", {"csat": 84, "error_rate": 1.0, "first_response_hours": 2}), ("W2", {"csat": 88})],
        {"csat": "met", "error_rate": "met", "first_response_hours": "met"},
        0.0,
        0.0,
    ),
    6: (  # a period with no data for two KPIs with credits, and two misses of one KPI
        [("M6", {"error_rate": 3.0}), ("M6b", {"error_rate": 3.5})],
        {"csat": "no data", "error_rate": "missed", "first_response_hours": "no data"},
        FEE * 0.04,
        0.0,
    ),
    30: (
        [("M30", {**MET, "csat": 84})],
        {"csat": "missed", "error_rate": "met", "first_response_hours": "met"},
        FEE * 0.03,
        0.0,
    ),
}
BREACHES = {
    2: ["csat", "error_rate", "first_response_hours"],
    4: ["csat"],
    5: ["csat"],
    6: ["error_rate"],
    30: ["csat"],
}


async def test_three_contract_years_settle_alert_and_remind_as_computed_by_hand(env, launch, settings):
    # The reference plan as it is, but for two things: `until` three years and a few months from
    # this server's clock (the transition takes about two months to reach steady state), and a
    # cap of 8%, since the plan's three credits sum to 9% and its own 12% cap could never bite.
    until = (await env.get_current_time() + timedelta(days=3 * 365 + 90)).date()
    text = (
        REFERENCE_PLAN.read_text()
        .replace("until: 2029-12-31", f"until: {until}")
        .replace("cap_percent: 12", "cap_percent: 8")
    )
    t = await launch(parse_plan(text, env={}).plan)
    first_run = (await env.client.get_workflow_handle(t.id).describe()).run_id
    status = await t.reach("steady_state")
    start = status.phase_started_at
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=start.tzinfo)
    periods = -(-(end - start) // timedelta(days=30))  # the last one ends early, at `until`

    for period in range(1, periods + 1):
        readings = SCENARIOS.get(period, ([(f"M{period}", MET)], None, 0.0, 0.0))[0]
        for label, values, *correction in readings:
            await t.do(
                RecordReadings(
                    period=label,
                    values=values,
                    by=LI,
                    correct=bool(correction),
                    reason=correction[0] if correction else None,
                    request_id=f"p{period}-{label}-{sorted(values)}",
                )
            )
        if period == 7:  # a reading sent again after a continue-as-new counts once
            await t.do(
                RecordReadings(
                    period="M2",
                    values={"csat": 80, "error_rate": 2.5, "first_response_hours": 5},
                    by=LI,
                    request_id="p2-M2-['csat', 'error_rate', 'first_response_hours']",
                )
            )
        if period == 13:  # periods 1 to 12 are settled, all in the first contract year
            ytd = (await t.status()).year_to_date
            assert ytd == {"contract_year": 1, "credit": FEE * 0.08 + FEE * 0.04, "bonus": FEE * 0.015}
        if period == 14:
            assert (await t.status()).year_to_date == {"contract_year": 2, "credit": 0.0, "bonus": 0.0}
        await t.sleep(days=30)

    result = await env.client.get_workflow_handle_for(TransitionWorkflow.run, t.id).result()
    assert isinstance(result, TransitionStatus)
    assert (result.state, result.phase) == ("completed", "steady_state")
    settled = result.settlements
    assert [s.period for s in settled] == list(range(1, periods + 1))
    for s in settled:
        _, kpis, credit, bonus = SCENARIOS.get(
            s.period, (None, {"csat": "met", "error_rate": "met", "first_response_hours": "met"}, 0.0, 0.0)
        )
        assert (s.kpis, s.credit, s.bonus, s.currency) == (kpis, credit, bonus, "USD"), s.period
        assert s.breaches == BREACHES.get(s.period, []), s.period
    assert settled[1].capped and settled[1].credit_percent == 8
    assert settled[4].values["csat"] == 86
    assert [s.contract_year for s in settled].count(1) == 13
    assert [s.contract_year for s in settled].count(2) == 12 and settled[-1].contract_year >= 3
    assert settled[-1].to == end

    with Session(make_engine(settings.audit_url)) as session:
        trail = read_trail(t.id, session=session)
    alerts = [(r.detail["period"], r.detail["kpi"]) for r in trail if r.kind == "sla_breach"]
    assert alerts == [(p, k) for p in sorted(BREACHES) for k in BREACHES[p]]
    reviews = [r.at for r in trail if r.kind == "business_review_due"]
    assert len(reviews) == (end - start) // timedelta(weeks=13) >= 12
    assert all(abs(at - (start + n * timedelta(weeks=13))) < timedelta(hours=1) for n, at in enumerate(reviews, 1))

    runs, run_id = [], first_run
    while run_id:
        history = await env.client.get_workflow_handle(t.id, run_id=run_id).fetch_history()
        runs.append(len(history.events))
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id or None
    print(f"three contract years took {len(runs)} runs; the largest had {max(runs)} events")
    # A run continues as new when its history reaches the budget, not at every period.
    assert len(runs) == result.runs >= 2
    assert max(runs) < 400
