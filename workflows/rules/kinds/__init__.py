"""Gate kinds, one module each behind the protocol of `workflows.rules.kinds.base`: a new kind is
a new module listed here (and its plan model in `models.plan`), not a branch in every rules module.
"""

from __future__ import annotations

from typing import Any

from workflows.rules.kinds import approval, checklist, kpi, roster, scorecard, workstreams
from workflows.rules.kinds.base import Kind

KINDS: dict[str, Kind[Any]] = {
    k.kind: k for k in (approval.KIND, checklist.KIND, kpi.KIND, roster.KIND, scorecard.KIND, workstreams.KIND)
}
"""Every gate kind by the plan's ``kind:``."""


def kind_of(spec: Any) -> Kind[Any]:
    """The kind of the plan's gate ``spec`` (any gate model of `models.plan`)."""
    return KINDS[spec.kind]


def taking(update: str) -> Kind[Any] | None:
    """The kind that takes the decision named ``update`` (``tick``), if one does."""
    return next((k for k in KINDS.values() if update in k.takes), None)


__all__ = ["KINDS", "Kind", "kind_of", "taking"]
