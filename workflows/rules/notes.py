"""Notes: a free text anyone on the roster adds to the transition's audit trail."""

from __future__ import annotations

from datetime import datetime

from models.commands import Note
from workflows.rules.clock import View
from workflows.rules.lookups import person
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused


def check(v: View, command: Note, now: datetime | None = None) -> None:
    """Anyone on the roster notes, while the transition takes decisions."""
    if v.state.state in ("completed", "cancelled"):
        raise Refused(f"the transition is {v.state.state}; it takes no more notes", RefusalKind.ENDED)
    person(v, command.by)


def add(m: Recorder, command: Note, now: datetime) -> None:
    """Keep the note in the decision log and the audit trail (signed, where it was), changing nothing else."""
    m.decided("noted", None, command, now, command.text)
