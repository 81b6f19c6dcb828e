"""The names people read for a plan's phases and gates.

Keys (``gap_analysis_approved``) stay what URLs, the command line and JSON carry; pages, notices,
reports and calendar entries show the plan's ``name:`` instead, and a gate the plan leaves
unnamed its key in words ("Gap analysis approved"). One place decides both, so the web app, the
documents and the rules' notices never disagree on what a phase is called.
"""

from __future__ import annotations

from models.messages import STEADY_STATE
from models.plan import Plan

STEADY_STATE_NAME = "Steady-state governance"
"""What the steady state after the last phase is called wherever a phase's name is shown."""


def in_words(key: str) -> str:
    """``key`` as words with a capital first letter: ``gap_analysis_approved`` → "Gap analysis approved"."""
    words = " ".join(part for part in key.split("_") if part)
    return words[:1].upper() + words[1:]


def named(key: str, name: str | None) -> str:
    """``name`` when the plan gives one, else ``key`` in words."""
    return name if name else in_words(key)


def phase_name(plan: Plan, key: str) -> str:
    """The name of the plan's phase ``key`` (the steady state's too); an unknown key in words."""
    if key == STEADY_STATE:
        return STEADY_STATE_NAME
    phase = next((p for p in plan.phases if p.key == key), None)
    return phase.name if phase else in_words(key)


def gate_name(plan: Plan, key: str) -> str:
    """The name of the gate ``key`` (gate keys are unique across a plan); a gate outside the
    plan (``amendment_2``) in words."""
    spec = next((g for p in plan.phases if (g := p.gate(key)) is not None), None)
    return named(key, spec.name if spec else None)
