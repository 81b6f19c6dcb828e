"""What the audit database keeps for the portfolio's analytics: a row per transition, the fold of
its trail up to a place in its chain (`infra.analytics_fold`), kept up by the projector
(`infra.analytics_projection`) off the decision's path, and the facts of its plan as last read
from Temporal, so a page of ten thousand transitions reads ten thousand rows, not a million, and
asks Temporal only for the plans that changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


class AnalyticsProjection(SQLModel, table=True):
    """One transition as the analytics read it."""

    __tablename__ = "analytics_projection"

    transition_id: str = Field(primary_key=True, max_length=250)
    position: int
    """The place in the transition's chain the fold has taken in every row up to."""
    shape: int = 1
    """The form of the fold (`infra.analytics_fold.SHAPE`): a row of another is folded again."""
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), index=True))
    """When its ``transition_started`` row says it started (none yet: no date filter chooses it)."""
    fold: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    facts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    """Its plan's `models.analytics.PlanFacts`, as last read; none when unknown."""
    facts_due: bool = True
    """Whether the plan must be read (again): a new transition, or a roster change or an amendment since."""
    client: str | None = Field(default=None, max_length=200, index=True)
    provider: str | None = Field(default=None, max_length=200, index=True)
