"""A recorded reading stands in every phase and in steady state, not only while a KPI gate is
open: a repeat is refused, a correction keeps both values and recomputes what depended on it, the
record is carried across continue-as-new, and a feed never overwrites it."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.contrib.pydantic import pydantic_data_converter

from models.commands import Approve, ReadingsBatch, RecordReadings
from models.feeds import FeedResult
from models.messages import StartTransition
from models.plan_loader import parse_plan
from tests.rules.sim import GOOD, LI, RAJ, Run
from tests.rules.test_feed_rules import machine as feed_machine
from workflows.rules import Machine, every_change
from workflows.rules.readings import MAX_STANDING_PERIODS
from workflows.rules.versions import READINGS_STAND

SMALL = """
name: Small
client: Acme
provider: North
people:
  - {id: li@acme.example, name: Li, org: client, roles: [executive_sponsor, program_manager]}
  - {id: raj@northstar.example, name: Raj, org: provider, roles: [transition_lead]}
kpis:
  - {key: csat, name: CSAT, unit: percent, better: higher, sla: 85}
  - {key: error_rate, name: Errors, unit: percent, better: lower, sla: 2.0}
service_credits:
  period: monthly
  monthly_fee: 100000
  credits: [{kpi: csat, percent: 3}]
phases:
  - key: planning
    name: Planning
    due: 30d
    gates:
      - {key: plan_ok, kind: approval, approvers: {roles: [program_manager]}}
steady_state:
  review_period: 30d
  breach_alert: [program_manager]
"""
AGAIN = "csat for W1 is already recorded (90); a reading stands unless corrected, with a reason"


def in_steady_state() -> Run:
    run = Run(parse_plan(SMALL, env={}).plan)
    assert run.do(Approve(gate="plan_ok", by=LI)).phase == "steady_state"
    return run


def test_a_second_reading_in_a_phase_with_no_kpi_gate_is_refused():
    run = Run()
    assert run.read("W1", **GOOD).phase == "planning"  # its gates are approvals and a checklist
    assert run.refused(RecordReadings(period="W1", values={"csat": 80.0}, by=RAJ), "AlreadyRecorded") == AGAIN
    # another metric of the same period, or another period, is a first reading
    run.read("W1", fcr=75.0)
    run.read("W2", csat=80.0)


def test_a_correction_outside_a_kpi_gate_keeps_both_values_who_changed_what_and_alerts_a_breach():
    run = Run()
    run.read("W1", **GOOD)
    fix = RecordReadings(period="W1", values={"csat": 80.0}, by=RAJ, correct=True)
    run.refused(fix, "ReasonRequired")
    run.do(fix.model_copy(update={"reason": "survey double-counted"}))
    rows = [(e.kind, e.actor, e.detail["values"]) for e in run.audit if e.kind.startswith("kpi_")]
    assert rows == [("kpi_reading", LI, GOOD), ("kpi_corrected", RAJ, {"csat": 80.0})]
    corrected = next(e for e in run.audit if e.kind == "kpi_corrected")
    assert (corrected.detail["was"], corrected.detail["was_by"]) == ({"csat": 90.0}, {"csat": LI})
    assert corrected.detail["reason"] == "survey double-counted"
    assert run.machine.state.latest["csat"] == 80.0  # what objectives are measured by
    assert [n.subject for n in run.sent("sla_breach")] and "W1" in run.sent("sla_breach")[0].text
    again = RecordReadings(period="W1", values={"csat": 95.0}, by=LI)
    assert "csat for W1 is already recorded (80)" in run.refused(again, "AlreadyRecorded")


def test_correcting_an_older_period_leaves_the_latest_reading_alone():
    run = Run()
    run.read("W1", csat=90.0)
    run.read("W2", csat=91.0)
    run.do(RecordReadings(period="W1", values={"csat": 70.0}, by=LI, correct=True, reason="typo"))
    assert run.machine.state.latest["csat"] == 91.0


def test_the_record_is_carried_across_continue_as_new():
    run = Run()
    run.read("W1", **GOOD)
    carried = StartTransition(id="t-1", plan=run.machine.plan, state=run.machine.state)
    payload = pydantic_data_converter.payload_converter.to_payloads([carried])[0]
    start = pydantic_data_converter.payload_converter.from_payload(payload, StartTransition)
    assert start.state is not None
    run.machine = Machine(start.plan, start.state, every_change)  # the next run, as the workflow builds it
    assert run.refused(RecordReadings(period="W1", values={"csat": 80.0}, by=RAJ), "AlreadyRecorded") == AGAIN
    run.do(RecordReadings(period="W1", values={"csat": 80.0}, by=RAJ, correct=True, reason="recount"))
    assert next(e for e in run.audit if e.kind == "kpi_corrected").detail["was_by"] == {"csat": LI}


def test_the_record_keeps_the_newest_labels_up_to_its_limit():
    run = Run()
    for week in range(MAX_STANDING_PERIODS + 5):
        run.read(f"W{week}", csat=90.0)
    standing = run.machine.state.standing
    assert len(standing) == MAX_STANDING_PERIODS and next(iter(standing)) == "W5"
    run.refused(RecordReadings(period=f"W{MAX_STANDING_PERIODS + 4}", values={"csat": 1.0}, by=LI), "AlreadyRecorded")


def test_junk_labels_never_push_a_reading_out_of_the_record():
    # A reporter records many labels to push W0 out of the record, then gives W0 again: refused,
    # as a correction too; another metric of W0 is still a first reading.
    run = Run()
    run.read("W0", csat=90.0)
    run.do(ReadingsBatch(batches=[RecordReadings(period=f"junk-{n}", values={"csat": 1.0}, by=RAJ) for n in range(70)]))
    assert "W0" not in run.machine.state.standing
    says = run.refused(RecordReadings(period="W0", values={"csat": 10.0}, by=RAJ), "AlreadyRecorded")
    assert says.startswith("csat for W0 was recorded long ago and stands")
    run.refused(RecordReadings(period="W0", values={"csat": 10.0}, by=RAJ, correct=True, reason="x"), "AlreadyRecorded")
    run.read("W0", fcr=75.0)
    assert run.machine.state.latest["csat"] == 1.0, "the junk is in the trail for all to see; W0's 90 stands"


def test_a_transition_records_a_bounded_number_of_readings_and_refuses_new_periods_past_it(monkeypatch):
    from workflows.rules import readings

    monkeypatch.setattr(readings, "MAX_READINGS", 3)
    run = Run()
    run.read("W1", csat=90.0, fcr=75.0)
    run.read("W2", csat=90.0)
    run.refused(RecordReadings(period="W3", values={"csat": 90.0}, by=RAJ), "TooManyReadings")
    run.do(RecordReadings(period="W2", values={"csat": 91.0}, by=RAJ, correct=True, reason="typo"))


def test_a_batch_giving_one_period_twice_is_refused():
    run = Run()
    twice = ReadingsBatch(batches=[RecordReadings(period="W1", values={"csat": v}, by=LI) for v in (90.0, 80.0)])
    assert "csat for W1 is given twice in the batch" in run.refused(twice, "AlreadyRecorded")


def test_in_steady_state_a_settled_period_is_kept_and_its_correction_leaves_the_settlement_as_sent():
    run = in_steady_state()
    run.read("M1", csat=90.0)
    run.later(days=31)
    [first] = run.machine.state.ledger.settlements  # type: ignore[union-attr]
    assert first.values == {"csat": 90.0}
    refused = run.refused(RecordReadings(period="M1", values={"csat": 80.0}, by=LI), "AlreadyRecorded")
    assert "csat for M1 is already recorded (90)" in refused
    run.do(RecordReadings(period="M1", values={"csat": 80.0}, by=LI, correct=True, reason="late survey returns"))
    corrected = next(e for e in run.audit if e.kind == "kpi_corrected")
    assert (corrected.detail["was"], corrected.detail["settled"]) == ({"csat": 90.0}, ["csat"])
    assert run.machine.state.ledger.readings == {}  # type: ignore[union-attr]  # not booked into period 2
    assert not run.sent("sla_breach")


def test_in_steady_state_a_correction_in_the_period_under_way_recomputes_its_settlement():
    run = in_steady_state()
    run.read("M1", csat=80.0)
    assert len(run.sent("sla_breach")) == 1
    run.do(RecordReadings(period="M1", values={"csat": 92.0}, by=LI, correct=True, reason="wrong survey"))
    run.later(days=31)
    [first] = run.machine.state.ledger.settlements  # type: ignore[union-attr]
    assert (first.values, first.kpis) == ({"csat": 92.0}, {"csat": "met"})


def test_a_feed_never_overwrites_a_reading_that_stands_outside_a_kpi_gate():
    m = feed_machine()
    pat = "pat@acme.example"
    good = {"csat": 91.0, "aht": 380.0}
    for week, settles in (("2027-W01", datetime(2027, 1, 11, 2, tzinfo=UTC)), ("2027-W02", None)):
        when = settles or datetime(2027, 1, 18, 2, tzinfo=UTC)
        m.advance(when)
        [pull] = m.take_pulls(when, set())
        m.pull_started("contact_centre")
        m.feed_pulled(pull, FeedResult(source="contact_centre", readings={week: good}), when)
    assert m.phase_key == "go_live"  # its gate is an approval: no KPI gate is open
    m.apply(RecordReadings(period="2027-W03", values={"csat": 88.0}, by=pat), datetime(2027, 1, 24, tzinfo=UTC))
    m.take_outbox()
    when = datetime(2027, 1, 25, 2, tzinfo=UTC)
    m.advance(when)
    [pull] = m.take_pulls(when, set())
    m.pull_started("contact_centre")
    m.feed_pulled(pull, FeedResult(source="contact_centre", readings={"2027-W03": {"csat": 70.0, "aht": 400.0}}), when)
    audit = m.take_outbox().audit
    [reading] = [e for e in audit if e.kind == "kpi_reading"]
    assert reading.detail["values"] == {"aht": 400.0}  # the feed's csat is left out: Pat's stands
    [differs] = [e for e in audit if e.kind == "feed_reading_differs"]
    assert (differs.detail["values"], differs.detail["standing"]) == ({"csat": 70.0}, {"csat": 88.0})
    standing = m.state.standing["2027-W03"]
    assert (standing["csat"].value, standing["csat"].by) == (88.0, pat)
    assert (standing["aht"].value, standing["aht"].by) == (400.0, "feed contact_centre")


def test_before_the_change_a_reading_outside_a_kpi_gate_was_not_kept():
    run = Run(patched=lambda change: change != READINGS_STAND)  # a history recorded before it
    run.read("W1", **GOOD)
    run.read("W1", csat=80.0)
    assert not run.machine.state.standing
    assert len([e for e in run.audit if e.kind == "kpi_reading"]) == 2


def test_a_correction_inside_a_kpi_gate_also_replaces_the_reading_that_stands():
    run = Run()
    run.reach_pilot()
    run.read("P1", **GOOD)
    run.read("P2", **{**GOOD, "csat": 70.0})
    status = run.do(RecordReadings(period="P2", values={"csat": 90.0}, by=RAJ, correct=True, reason="typo"))
    assert status.gates[0].status == "passed"  # the streak, recounted
    assert (run.machine.state.standing["P2"]["csat"].value, run.machine.state.standing["P2"]["csat"].by) == (90.0, RAJ)


def test_a_correction_of_a_period_read_before_a_kpi_gate_opened_does_not_count_toward_it():
    run = Run()
    run.read("W1", **GOOD)  # in planning
    run.reach_pilot()
    fix = RecordReadings(period="W1", values={**GOOD, "csat": 91.0}, by=LI, correct=True, reason="recount")
    status = run.do(fix)
    assert run.gate("pilot_kpis_met").progress == "0/2 periods" and status.phase == "pilot"
