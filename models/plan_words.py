"""The plan's small vocabulary, shared by the plan and its gates: keys, roles, shares of a due
time, health, orgs, and one step of an escalation ladder."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer

from models.base import Strict
from models.durations import Span

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A key other keys refer to: lower case, digits and underscores, starting with a letter."""

Role = Key


def _share(value: object) -> object:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"'{value}' is not a share; write it as 75%") from None
    return value


Share = Annotated[
    float,
    BeforeValidator(_share),
    Field(gt=0, lt=1, description="a share of a due time, such as 75%"),
    PlainSerializer(lambda v: f"{v * 100:g}%", return_type=str),
]
"""A share of a due time, written ``75%`` (or 0.75); between 0% and 100%, both excluded."""
Health = Literal["on_track", "at_risk", "escalated"]

Org = Literal["client", "provider", "third_party"]


class EscalationLevel(Strict):
    """One step of an escalation ladder: how long past due, whom to tell, what health."""

    after: Span
    notify: list[Role] = Field(min_length=1)
    health: Health | None = None
