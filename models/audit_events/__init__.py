"""The audit trail read back typed: one model per kind of row the transition writes, naming the
detail fields that kind carries, and `event_of` to read a stored row into its model.

The rules write rows with a loose ``detail`` dictionary (`workflows.rules.outbox.Recorder.audit`),
and what they write is part of the histories that must replay, so it stays as it is; these models
are only how the reports, the QBR pack, the web app and the tallies read it. Every detail field is
optional (rows written by older code lack the newer ones), unknown keys are ignored, and a field an
old row wrote in another shape reads as missing rather than failing the whole row. A kind this code
does not know reads as `Unknown`, never as an exception.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from models.audit_events import decisions, happenings, programs
from models.audit_events.base import Event, Row, Unknown


def _kinds() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    for module in (decisions, happenings, programs):
        for model in vars(module).values():
            if isinstance(model, type) and issubclass(model, Event) and "kind" in model.model_fields:
                default = model.model_fields["kind"].default
                if isinstance(default, str):  # a family's base names no kind of its own
                    found[default] = model
    return found


EVENTS: dict[str, type[Event]] = _kinds()
"""Each kind of row this code knows, and its model."""


def event_of(row: Row) -> Event:
    """The row as its kind's typed event; `Unknown` for a kind not in `EVENTS`. A detail field
    whose stored value does not fit its type (an old row) reads as missing; never raises."""
    envelope = {
        "kind": row.kind,
        "transition_id": row.transition_id,
        "at": row.at,
        "phase": row.phase,
        "gate": row.gate,
        "actor": row.actor,
        "via": row.via,
    }
    model = EVENTS.get(row.kind)
    if model is None:
        return Unknown.model_validate({**envelope, "detail": dict(row.detail)})
    # A detail's own "kind" (a gate's, a RAID item's) would shadow the row's: it reads as "of_kind".
    detail = {("of_kind" if k == "kind" else k): v for k, v in row.detail.items() if k not in envelope or k == "kind"}
    data = {**detail, **envelope}
    for _ in range(2):
        try:
            return model.model_validate(data)
        except ValidationError as error:
            bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]}
            if bad & envelope.keys():
                break
            data = {k: v for k, v in data.items() if k not in bad}
    return Unknown.model_validate({**envelope, "detail": dict(row.detail)})


def events_of(rows: Iterable[Row]) -> list[Event]:
    """Every row of a trail as its typed event, in the order given."""
    return [event_of(r) for r in rows]
