"""Value realized, without a server: baseline → target → actual per KPI, and the business case's
savings net of the costs recorded, the service credits owed and the bonuses earned."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from models.commands import Approve, RecordCost
from models.errors import sentence
from models.plan_loader import parse_plan
from tests.rules.sim import START, Run
from workflows.rules import Refused
from workflows.rules.registry import signal_command
from workflows.rules.versions import COSTS_RECORDED

LI, RAJ = "li@acme.example", "raj@northstar.example"
VALUED = """
name: Valued
client: Acme
provider: North
people:
  - {id: li@acme.example, name: Li, org: client, roles: [executive_sponsor, program_manager]}
  - {id: raj@northstar.example, name: Raj, org: provider, roles: [transition_lead]}
objectives:
  - {key: happier, statement: Happier customers, kpi: csat, target: 88}
  - {key: fewer_errors, statement: Fewer errors, kpi: error_rate, baseline: 3.5}
kpis:
  - {key: csat, name: CSAT, unit: percent, better: higher, sla: 85, target: 90, baseline: 82}
  - {key: error_rate, name: Errors, unit: percent, better: lower, sla: 2.0, baseline: 3.0}
  - {key: aht, name: Handling time, unit: minutes, better: lower, sla: 6}
business_case:
  currency: EUR
  annual_savings: 1200000
  one_off_costs: 150000
service_credits:
  period: monthly
  monthly_fee: 100000
  currency: EUR
  credits: [{kpi: csat, percent: 3}]
  bonuses: [{kpi: csat, at_least: 95, percent: 1.5}]
phases:
  - key: planning
    name: Planning
    due: 30d
    gates:
      - {key: plan_ok, kind: approval, approvers: {roles: [program_manager]}}
steady_state:
  review_period: 30d
"""
PLAN = parse_plan(VALUED, env={}).plan


def cost(amount: str, category: str, by: str = LI) -> RecordCost:
    return RecordCost(amount=Decimal(amount), category=category, note=f"{category} invoice", by=by, via="cli")


def test_savings_to_date_are_the_case_pro_rata_net_of_costs_credits_and_bonuses():
    run = Run(PLAN)
    assert run.do(Approve(gate="plan_ok", by=LI)).phase == "steady_state"  # live from START
    run.do(cost("40000", "travel"))
    run.do(cost("25000.50", "severance"))
    run.read("M1", csat=80.0)  # misses the SLA: a 3% credit, 3,000.00
    run.later(days=31)
    run.read("M2", csat=96.0)  # reaches 95: a 1.5% bonus, 1,500.00
    savings = run.later(days=30).value.savings  # type: ignore[union-attr]
    assert savings is not None
    # 61 days live of 1,200,000 a year = 200,547.95 (worked out by hand, to the cent)
    assert savings.live_since == START
    assert savings.savings_to_date == Decimal("200547.95")
    assert (savings.costs, savings.credits, savings.bonuses) == (Decimal("65000.50"), Decimal(3000), Decimal(1500))
    assert savings.costs_by_category == {"severance": Decimal("25000.50"), "travel": Decimal("40000.00")}
    assert savings.net_to_date == Decimal("137047.45")  # 200,547.95 - 65,000.50 + 3,000 - 1,500
    assert savings.planned_to_date == Decimal("50547.95")  # 200,547.95 - 150,000 one-off
    assert savings.variance == Decimal("86499.50")  # better than the case by that much
    assert savings.currency == "EUR"


def test_kpis_with_a_baseline_show_baseline_target_and_actual_and_which_way_they_moved():
    run = Run(PLAN)
    run.read("W1", csat=87.0, error_rate=3.4, aht=5.0)
    value = run.status().value
    assert value is not None
    shown = [(k.key, k.baseline, k.target, k.actual, k.change, k.improved) for k in value.kpis]
    # aht has no baseline: not shown; error_rate has no target: its SLA is the aim
    assert shown == [("csat", 82.0, 90.0, 87.0, 5.0, True), ("error_rate", 3.0, 2.0, 3.4, 0.4, False)]
    baselines = {o.key: o.baseline for o in run.status().objectives}
    assert baselines == {"happier": 82.0, "fewer_errors": 3.5}  # its KPI's, else its own


def test_before_go_live_nothing_is_saved_yet_and_costs_already_count():
    run = Run(PLAN)
    run.do(cost("1000", "tooling"))
    savings = run.later(days=3).value.savings  # type: ignore[union-attr]
    assert savings is not None and savings.live_since is None
    assert (savings.savings_to_date, savings.net_to_date, savings.variance) == (0, Decimal(-1000), Decimal(149000))


def test_a_cost_is_audited_with_its_author_amount_and_category_and_kept_in_the_decisions():
    run = Run(PLAN)
    status = run.do(cost("1250.50", "travel"))
    [row] = [a for a in run.audit if a.kind == "cost_recorded"]
    assert (row.actor, row.via, row.detail) == (
        LI,
        "cli",
        {"note": "travel invoice", "amount": "1250.50", "category": "travel", "currency": "EUR"},
    )
    assert (status.decisions[-1].kind, status.decisions[-1].note) == ("cost_recorded", "travel invoice")


def test_a_cost_by_someone_outside_the_program_office_is_refused_with_who_may():
    run = Run(PLAN)
    refused = run.refused(cost("10", "travel", by=RAJ), "NotAllowed")
    assert "may not record costs: it needs one of the roles executive_sponsor, program_manager, finance" in refused


def test_a_plan_without_a_business_case_shows_no_value_and_takes_no_cost():
    run = Run()  # the reference plan: no baselines, no business case
    assert run.status().value is None
    refused = run.refused(cost("10", "travel", by="li@acme.example"), "BadInput")
    assert refused == "the plan has no business_case, whose currency costs are recorded in; amend the plan to add one"


def test_before_the_change_a_cost_is_refused_as_the_unknown_command_it_was_and_never_taken_as_a_signal():
    run = Run(PLAN, patched=lambda change: change != COSTS_RECORDED)
    refused = run.refused(cost("10", "travel"), "UnknownCommand")
    assert refused == "no command is called 'cost' in the rules this transition runs"
    with pytest.raises(Refused, match="'cost' is not taken as a signal; send it as an update"):
        signal_command("cost")


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "must be more than 0"),
        ("-5", "must be more than 0"),
        ("12.345", "takes at most 2 decimal places"),
        ("a lot", "must be a number"),
        ("NaN", "must be a finite number"),
    ],
)
def test_a_cost_that_is_not_a_positive_sum_to_the_cent_is_refused_in_words(amount: str, words: str):
    with pytest.raises(ValidationError) as caught:
        RecordCost(amount=amount, category="travel", note="x", by=LI)  # type: ignore[arg-type]
    assert [sentence(e, show_input=False) for e in caught.value.errors()] == [words]
    with pytest.raises(ValidationError, match="pattern"):
        RecordCost(amount=Decimal(1), category="Travel Costs", note="x", by=LI)


@pytest.mark.parametrize(
    ("typed", "kept"), [("1e3", "1000.00"), ("1.5E3", "1500.00"), ("١٠٠", "100"), ("99.5", "99.5")]
)
def test_a_cost_is_audited_in_plain_ascii_digits_however_it_was_typed(typed: str, kept: str):
    run = Run(PLAN)
    run.do(RecordCost(amount=typed, category="travel", note="taxis", by=LI, via="cli"))  # type: ignore[arg-type]
    [row] = [e for e in run.audit if e.kind == "cost_recorded"]
    assert row.detail["amount"] == kept


@pytest.mark.parametrize(
    ("case", "where", "words"),
    [
        ({"currency": "eur", "annual_savings": 1}, "business_case.currency", "'eur' is not an ISO 4217 currency code"),
        ({"currency": "XYZ", "annual_savings": 1}, "business_case.currency", "'XYZ' is not an ISO 4217"),
        ({"currency": "EUR", "annual_savings": -1}, "business_case.annual_savings", "must be 0 or more"),
        ({"currency": "EUR", "annual_savings": 1, "one_off_costs": 0.001}, "business_case.one_off_costs", "at most 2"),
        ({"currency": "EUR"}, "business_case.annual_savings", "'annual_savings' is required"),
        ({"currency": "USD", "annual_savings": 1}, "business_case.currency", "service credits are in EUR"),
    ],
)
def test_a_business_case_is_refused_in_words_with_where(case: dict[str, object], where: str, words: str):
    import yaml

    from models.plan_loader import PlanError

    data = yaml.safe_load(VALUED)
    data["business_case"] = case
    with pytest.raises(PlanError) as caught:
        parse_plan(yaml.safe_dump(data), source="plan.yaml", env={})
    rendered = [p.render("plan.yaml") for p in caught.value.problems]
    assert any(f" {where}: " in r and words in r for r in rendered), rendered


def test_a_baseline_that_is_not_a_finite_number_is_refused_with_where():
    from models.plan_loader import PlanError

    with pytest.raises(PlanError) as caught:
        parse_plan(VALUED.replace("baseline: 82", "baseline: .inf"), source="plan.yaml", env={})
    assert [p.render("plan.yaml").split(": ", 1)[1] for p in caught.value.problems] == [
        "kpis[0].baseline: must be a finite number (got inf)"
    ]


def test_status_report_and_qbr_show_baseline_target_actual_and_the_savings_against_the_case():
    from bpo.qbr import Quarter, render_qbr
    from bpo.render import status_text
    from bpo.report import render_report
    from tests.test_report_templates import records

    run = Run(PLAN)
    run.do(Approve(gate="plan_ok", by=LI))
    run.do(cost("40000", "travel"))
    run.read("M1", csat=80.0, error_rate=1.5)
    st = run.later(days=31)
    text = status_text(st, run.now)
    assert "  csat: 82% → 90% → 80%  -2 (worse)" in text
    assert "  error_rate: 3% → 2% → 1.5%  -1.5 (better)" in text
    assert "  Costs recorded (travel 40,000.00 EUR): -40,000.00 EUR" in text
    assert "  Service credits owed by the provider: 3,000.00 EUR" in text
    # 31 days live of 1,200,000 a year: 101,917.81; less 40,000 costs, plus 3,000 credits
    assert "  Net savings to date: 64,917.81 EUR" in text
    assert "  Against the business case: +113,000.00 EUR" in text  # 150,000 - 40,000 + 3,000
    for html in (
        render_report(run.machine.plan, st, records(run), run.now),
        render_qbr(run.machine.plan, st, records(run), Quarter.parse("2027-Q1"), run.now),
    ):
        assert '<h2 id="value">Value realized</h2>' in html
        assert "<td>CSAT</td><td>82%</td><td>90%</td><td>80%</td><td>-2 (worse)</td>" in html
        assert "<td>Fewer errors</td><td>3.5</td><td>2</td><td>1.5</td>" in html  # an objective's own baseline
        assert "<td>Net savings to date</td><td>64,917.81 EUR</td>" in html


def test_a_plan_without_baselines_or_a_case_shows_no_value_section():
    from bpo.render import status_text
    from bpo.report import render_report
    from tests.test_report_templates import records

    run = Run()
    assert "Value" not in status_text(run.status(), run.now)
    assert 'id="value"' not in render_report(run.machine.plan, run.status(), records(run), run.now)


def test_the_cost_form_is_offered_to_the_program_office_only_and_sits_in_the_value_section():
    from bpo.web.forms import forms_for

    run = Run(PLAN)
    assert run.machine.offered(LI, run.now)["cost"] == [""]
    assert "cost" not in run.machine.offered(RAJ, run.now)
    assert "cost" not in Run().machine.offered("li@acme.example", run.now), "no business case, no costs"
    [form] = [f for f in forms_for({"cost": [""]}, run.status(), PLAN, list(PLAN.people)) if f.update == "cost"]
    assert (form.place, form.title) == ("value", "Record a cost")
    assert [(i.name, i.kind, i.required) for i in form.inputs] == [
        ("amount", "text", True),
        ("category", "text", True),
        ("note", "textarea", True),
    ]
    assert form.inputs[0].label == "Amount, to the cent (in the business case's currency)"


def test_a_business_case_added_by_amendment_is_said_and_then_takes_costs():
    from models.commands import Amend
    from models.money import BusinessCase
    from tests.rules.sim import DANA
    from workflows.rules.amendments import changes

    run = Run()  # the reference plan, without a case
    case = BusinessCase(currency="USD", annual_savings=Decimal(1200000))
    amended = run.machine.plan.model_copy(update={"business_case": case})
    assert changes(run.machine.plan, amended) == ["business_case changed"]
    run.do(Amend(plan=amended, reason="the business case, agreed at steering", by=LI))
    run.do(Approve(gate="amendment_1", by=DANA))
    run.do(cost("99.99", "tooling"))
    assert run.status().value.savings.costs == Decimal("99.99")  # type: ignore[union-attr]


def test_once_costs_are_recorded_an_amendment_keeps_the_business_case_and_its_currency():
    from models.commands import Amend
    from workflows.rules.versions import AMENDMENT_KEEPS_CURRENCY

    dollars = parse_plan(VALUED.replace("currency: EUR", "currency: USD"), env={}).plan
    no_case = PLAN.model_copy(update={"business_case": None})
    run = Run(PLAN)
    run.do(Amend(plan=dollars, reason="proposed before any cost", by=LI))
    run.do(cost("40000", "travel"))
    assert run.refused(Approve(gate="amendment_1", by=LI), "BadPlan") == (
        "business_case.currency: 40,000.00 EUR of costs are recorded in it; an amendment may not change it to USD, "
        "which would count them as USD"
    )
    assert "may not change it to USD" in run.refused(Amend(plan=dollars, reason="dollars", by=LI), "BadPlan")
    assert run.refused(Amend(plan=no_case, reason="no case", by=LI), "BadPlan") == (
        "business_case: 40,000.00 EUR of costs are recorded against it; an amendment may not remove it"
    )
    assert run.status().value.savings.currency == "EUR"  # type: ignore[union-attr]

    before = Run(PLAN, patched=lambda change: change != AMENDMENT_KEEPS_CURRENCY)  # as it ran before the change
    before.do(cost("40000", "travel"))
    before.do(Amend(plan=dollars, reason="dollars", by=LI))
    assert before.do(Approve(gate="amendment_1", by=LI)).value.savings.currency == "USD"  # type: ignore[union-attr]
