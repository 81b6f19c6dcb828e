"""Value realized, as a transition's status reports it: each KPI from the in-house baseline to
its target and its latest reading, and the savings against the business case net of the costs
recorded, the service credits the provider owed and the bonuses it earned."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from models.base import Message


class KpiValue(Message):
    """One KPI with a baseline: where the in-house operation stood, the aim, and where it is now."""

    key: str
    name: str
    unit: str = ""
    better: Literal["higher", "lower"]
    baseline: float
    target: float
    """The KPI's ``target``, else its SLA."""
    actual: float | None = None
    """The latest reading; None before the first."""
    change: float | None = None
    """How far the latest reading moved from the baseline, signed as the number moved."""
    improved: bool | None = None
    """Whether it moved in the KPI's ``better`` direction (None without a reading; False unchanged)."""


class Savings(Message):
    """The business case against what happened so far, in its currency.

    ``savings_to_date`` is the case's annual savings for the time since go-live (steady state),
    pro rata by day; ``net_to_date`` takes off the costs recorded and the bonuses paid and adds
    back the service credits owed; ``planned_to_date`` is what the case expected by now (its
    one-off costs instead of those recorded, no credits, no bonuses); ``variance`` is the
    difference, positive when better than the case.
    """

    currency: str
    annual_savings: Decimal
    one_off_costs: Decimal
    costs: Decimal
    costs_by_category: dict[str, Decimal] = {}
    credits: Decimal
    bonuses: Decimal
    live_since: datetime | None = None
    """When steady state began (go-live); None before it."""
    savings_to_date: Decimal
    net_to_date: Decimal
    planned_to_date: Decimal
    variance: Decimal


class ValueStatus(Message):
    """Baseline → target → actual per KPI that has a baseline, and the savings if the plan has a
    business case."""

    kpis: list[KpiValue] = []
    savings: Savings | None = None
