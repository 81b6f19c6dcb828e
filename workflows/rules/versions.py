"""The versioning seam: whether a change of behaviour applies to this transition.

Running transitions must replay exactly as they ran. A rule that changes what it does asks
``machine.changed("change-id")`` and keeps the old branch for ``False``. The rules stay free of
Temporal: the workflow backs the question with ``workflow.patched``, which is ``True`` for a
transition that reaches the rule for the first time under the new code and ``False`` while it
replays a history recorded before the change; tests pass whatever they need.
"""

from __future__ import annotations

from collections.abc import Callable

Patched = Callable[[str], bool]
"""Asked with a change id; answers whether the change applies to this transition."""


def every_change(change: str) -> bool:
    """The seam outside a workflow: every change applies, as to a transition started today."""
    return True
