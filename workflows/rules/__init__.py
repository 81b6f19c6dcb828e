"""The transition's state machine, in plain deterministic Python.

`Machine` takes a command or the passing of time and changes a `TransitionState`, collecting
what must be written to the audit trail and who must be told in an `Outbox`. Nothing here
imports Temporal: the workflow in `workflows/transition.py` feeds it and carries out its outbox,
and the tests in `tests/rules/` drive it with no server at all. The rules it follows are those
of `docs/semantics.md`, in rooms named for what they are about:

- `clock`: the read-only view of plan and state, the phase under way and its clocks;
- `refusals`: `Refused` and its kinds; `lookups`: who a person is, which gate a key names;
- `registry`: each command's check and apply, through which `Machine` dispatches;
- `checks`: whether a command is allowed;
- `decisions`: what each command changes; `notes`: a note on the audit trail;
- `gates`: when a gate passes and how far along it is;
- `phases`: check-ins, the escalation ladder, waves, moving from phase to phase;
- `ledger` and `settlement`: steady state, its settlements and business reviews;
- `texts`: what every notice says;
- `status`: where a transition stands, and the Web UI's details;
- `outbox`: the audit entries and notices the rules ask for;
- `versions`: the seam through which a change of behaviour asks whether it applies.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.rules.machine import Machine
    from workflows.rules.phases import HEALTH_ORDER
    from workflows.rules.refusals import RefusalKind, Refused
    from workflows.rules.versions import Patched, every_change

__all__ = ["HEALTH_ORDER", "Machine", "Patched", "RefusalKind", "Refused", "every_change"]

_ROOMS = {
    "HEALTH_ORDER": "phases",
    "Machine": "machine",
    "Patched": "versions",
    "RefusalKind": "refusals",
    "Refused": "refusals",
    "every_change": "versions",
}


def __getattr__(name: str) -> Any:
    """Each name from its room when first asked: `bpo status` reads a refusal's kind without
    loading the whole machine (a submodule not named here is imported as any other)."""
    if name not in _ROOMS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_ROOMS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The names handed out as well, so a mistyped one still gets Python's "did you mean"."""
    return sorted({*globals(), *_ROOMS})
