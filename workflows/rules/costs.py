"""Costs: what the transition actually cost, as the program office records it (``bpo cost``).

Each cost is audited (``cost_recorded``) and summed by category into the carried state, where the
value realized (`workflows.rules.value`) nets it from the business case's savings. Costs are in
the business case's currency, so a plan without one takes none.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from models.commands import RecordCost
from models.messages import Cost
from workflows.rules.clock import View
from workflows.rules.lookups import require_role
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import COSTS_RECORDED

COST_ROLES = ("executive_sponsor", "program_manager", "finance")
"""Who records costs: the program office's people and finance."""
MAX_COSTS = 500
"""Costs kept one by one in the carried state; the totals by category keep every one."""


def check(v: View, command: RecordCost, now: datetime | None = None) -> None:
    """A sponsor, program manager or finance records a cost, in the business case's currency,
    while the transition takes decisions."""
    if not v.changed(COSTS_RECORDED):  # the rules a transition ran before costs were taken
        raise Refused("no command is called 'cost' in the rules this transition runs", RefusalKind.UNKNOWN_COMMAND)
    if v.state.state in ("completed", "cancelled"):
        raise Refused(f"the transition is {v.state.state}; it takes no more costs", RefusalKind.ENDED)
    require_role(v, command.by, COST_ROLES, "record costs")
    if v.plan.business_case is None:
        raise Refused(
            "the plan has no business_case, whose currency costs are recorded in; amend the plan to add one",
            RefusalKind.BAD_INPUT,
        )


def add(m: Recorder, command: RecordCost, now: datetime) -> None:
    """Keep the cost, add it to its category's total, and audit it with its author."""
    cost = Cost(amount=command.amount, category=command.category, note=command.note, by=command.by, at=now)
    m.state.costs = [*m.state.costs, cost][-MAX_COSTS:]
    totals = dict(m.state.cost_totals)
    totals[cost.category] = totals.get(cost.category, Decimal(0)) + cost.amount
    m.state.cost_totals = totals
    currency = m.plan.business_case.currency if m.plan.business_case else None
    detail = {"amount": str(cost.amount), "category": cost.category, "currency": currency}
    m.decided("cost_recorded", None, command, now, command.note, detail)
