"""Steady state: readings into the ledger, breach alerts, settlements, business reviews, the end.

Periods run back to back on the unpaused clock from the moment steady state began; each is
settled when it ends (`workflows.rules.settlement` does the sums), which is also a good moment
for the workflow to continue as new.
"""

from __future__ import annotations

from datetime import datetime

from models.commands import RecordReadings
from workflows.rules import texts
from workflows.rules.outbox import Recorder
from workflows.rules.phases import close_run
from workflows.rules.settlement import quarter_summary, settle

MAX_SETTLEMENTS = 120  # ten years of monthly periods; older ones stay in the audit trail
REVIEWERS = ["executive_sponsor", "program_manager", "point_of_contact", "transition_lead"]
SETTLEMENT_READERS = ["program_manager", "transition_lead", "executive_sponsor"]


def govern(m: Recorder, now: datetime) -> None:
    """Settle every period that ended, send a review that fell due, end on the ``until`` date."""
    ledger, terms = m.state.ledger, m.plan.steady_state
    if ledger is None or terms is None:
        return
    period = terms.review_period.total_seconds()
    while m.active_at(now) >= ledger.active_start + ledger.period * period:
        end = m.at_active(ledger.active_start + ledger.period * period, now)
        settle_period(m, end, now)
    review = m.plan.cadence.business_review
    if review and m.active_at(now) >= ledger.active_start + (ledger.reviews_sent + 1) * review.total_seconds():
        ledger.reviews_sent = int((m.active_at(now) - ledger.active_start) // review.total_seconds())
        business_review(m, now)
    until = m.until()
    if until is not None and now >= until:
        settle_period(m, until, now)
        complete(m, now)


def settle_period(m: Recorder, end: datetime, now: datetime) -> None:
    """Settle the period under way as ending at ``end`` and open the next one."""
    ledger = m.state.ledger
    assert ledger is not None
    settlement = settle(
        m.plan,
        ledger.readings,
        period=ledger.period,
        start=ledger.period_started_at,
        end=end,
        contract_year=m.contract_year(ledger.period),
        breaches=ledger.alerted,
    )
    ledger.settlements = [*ledger.settlements, settlement][-MAX_SETTLEMENTS:]
    ledger.period += 1
    ledger.period_started_at = end
    ledger.readings, ledger.alerted = {}, []
    m.period_closed = True
    detail = settlement.model_dump(mode="json")
    m.audit("settlement", now, detail=detail)
    m.notify("settlement", texts.settlement(m.plan, settlement), SETTLEMENT_READERS, now, detail)


def business_review(m: Recorder, now: datetime) -> None:
    """Tell the sponsors and leads that a business review is due, with the quarter's summary."""
    ledger = m.state.ledger
    assert ledger is not None and m.plan.cadence.business_review
    quarter_start = now - m.plan.cadence.business_review
    recent = [s for s in ledger.settlements if s.to > quarter_start]
    open_escalations = len([e for e in m.state.escalations if e.phase == m.phase_key])
    summary = quarter_summary(recent, open_escalations)
    m.audit("business_review_due", now, detail={"review": ledger.reviews_sent, "summary": summary})
    message = texts.business_review(m.plan, ledger.reviews_sent, summary)
    m.notify("business_review", message, REVIEWERS, now, {"review": ledger.reviews_sent})


def complete(m: Recorder, now: datetime) -> None:
    """End the transition: its contract's steady state is over."""
    s = m.state
    m.stop_clocks(now)
    s.state, s.ended_at, s.end_reason = "completed", now, "steady state ended on its until date"
    close_run(m, "passed", now)
    m.audit("transition_completed", now)
    m.notify("completed", texts.completed(m.plan), ["executive_sponsor", "program_manager"], now)


def record_steady(m: Recorder, command: RecordReadings, now: datetime) -> None:
    """Book readings into the period under way; alert a breach once per KPI and period."""
    ledger, terms = m.state.ledger, m.plan.steady_state
    if ledger is None or terms is None:
        return
    ledger.readings.setdefault(command.period, {}).update(command.values)
    for metric, value in command.values.items():
        kpi = m.plan.kpi(metric)
        if kpi is None or kpi.meets_sla(value) or metric in ledger.alerted:
            continue
        ledger.alerted.append(metric)
        detail = {"kpi": metric, "value": value, "sla": kpi.sla, "label": command.period, "period": ledger.period}
        m.audit("sla_breach", now, actor=command.by, detail=detail)
        message = texts.sla_breach(m.plan, kpi, value, command.period, ledger.period)
        m.notify("sla_breach", message, terms.breach_alert, now, detail)


def unsettled(m: Recorder, correction: RecordReadings) -> tuple[RecordReadings, list[str]]:
    """The part of a steady-state ``correction`` that the period under way counts, and the metrics
    it leaves out: those recorded for a label outside that period (settled before, or read during
    the phases) are corrected in the record and the trail, and the settlement that counted them
    stands as it was sent."""
    under_way = m.state.ledger.readings.get(correction.period, {}) if m.state.ledger else {}
    counted = {k: v for k, v in correction.values.items() if k in under_way}
    left = sorted(k for k in correction.values if k not in under_way)
    return correction.model_copy(update={"values": counted}), left
