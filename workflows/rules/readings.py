"""Readings stand: what is recorded for a metric and period label, in every phase and in steady
state, and what a correction replaces.

Before `READINGS_STAND`, only the open KPI gates (or steady state's period under way) knew what
was recorded, so a reading in a phase with no KPI gate could be given again without a
correction. Since, ``state.standing`` keeps the reading that stands for each period label and
metric across the whole transition, carried from run to run with the rest of the state.

It keeps the last `MAX_STANDING_PERIODS` labels whole: a label is a few hundred bytes (one entry
per metric, with its reporter), so a steady-state year of weekly readings carries about 10 KB and
the reference plan's monthly periods about 3 KB a year, inside the history budget. A label older
than that leaves only a 12-character digest per metric in ``state.stood`` (15 bytes: ten years of
weekly readings of four KPIs, about 30 KB), so its readings still stand: a reporter who records
junk labels to push a period out of the record gains nothing. A transition records at most
`MAX_READINGS` (period, metric) readings; past that, a new period is refused, never an old one
forgotten.
"""

from __future__ import annotations

import hashlib

from models.commands import RecordReadings
from models.messages import Standing
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import READINGS_STAND

MAX_STANDING_PERIODS = 60
"""A year of weekly labels with room for the phases' own, or five years of monthly ones."""
MAX_READINGS = 6000
"""(period, metric) readings a transition records at most: twenty years of weekly readings of
five KPIs; at most about 90 KB of digests in the carried state."""


def _digest(period: str, metric: str) -> str:
    return hashlib.sha256(f"{period}\x1f{metric}".encode()).hexdigest()[:12]


def stood_long_ago(v: View, period: str, metrics: list[str]) -> list[str]:
    """Those of ``metrics`` recorded for ``period`` so long ago that only their digest is kept."""
    if not v.state.stood or period in v.state.standing:
        return []
    kept = set(v.state.stood)
    return [metric for metric in metrics if _digest(period, metric) in kept]


def full(v: View, period: str, metrics: list[str]) -> bool:
    """Whether recording ``metrics`` for ``period`` would pass `MAX_READINGS`."""
    new = [m for m in metrics if m not in v.state.standing.get(period, {})]
    held = len(v.state.stood) + sum(len(entries) for entries in v.state.standing.values())
    return bool(new) and held + len(new) > MAX_READINGS


def recorded(v: View, period: str) -> dict[str, float]:
    """What stands recorded for ``period``, metric by metric: transition-wide since
    `READINGS_STAND`; before, in the open KPI gates or in steady state's period under way
    (still asked, for readings recorded before the change in a run that continued since)."""
    found = _under_way(v, period)
    if v.changed(READINGS_STAND):
        found.update({metric: r.value for metric, r in v.state.standing.get(period, {}).items()})
    return found


def recorded_by(v: View, period: str) -> dict[str, str | None]:
    """Who recorded what stands for ``period`` (a reporter's id, or ``feed <name>``)."""
    return {metric: r.by for metric, r in v.state.standing.get(period, {}).items()}


def _under_way(v: View, period: str) -> dict[str, float]:
    if v.phase is None:
        return dict(v.state.ledger.readings.get(period, {})) if v.state.ledger else {}
    found: dict[str, float] = {}
    for gate in v.state.gates:
        if gate.status == "open":
            found.update(gate.readings.get(period, {}))
    return found


def newest(v: View, period: str, metrics: list[str]) -> list[str]:
    """Those of ``metrics`` whose newest label standing is ``period`` (or that have none): a
    correction of an older period leaves the latest reading, which objectives are measured by,
    as it is."""
    later: set[str] = set()
    for label in reversed(v.state.standing):
        if label == period:
            break
        later.update(v.state.standing[label])
    return [metric for metric in metrics if metric not in later]


def stand(m: Recorder, command: RecordReadings) -> None:
    """Keep ``command``'s values as the readings standing for its period; a correction replaces
    them in place (the label keeps its age), a new label pushes out the oldest past the limit."""
    by = command.by or command.operator
    standing = m.state.standing
    entries = standing.setdefault(command.period, {})
    entries.update({metric: Standing(value=value, by=by) for metric, value in command.values.items()})
    while len(standing) > MAX_STANDING_PERIODS:  # the oldest label leaves its digests behind
        oldest = next(iter(standing))
        m.state.stood = [*m.state.stood, *(_digest(oldest, metric) for metric in standing.pop(oldest))]


def batch_repeats(v: View, batches: list[RecordReadings]) -> None:
    """Refuse a batch that gives the same metric and period twice without correcting it: each
    batch is checked against what stood before the batch, so a repeat inside it is caught here."""
    if not v.changed(READINGS_STAND):
        return
    seen: set[tuple[str, str]] = set()
    for batch in batches:
        for metric in batch.values:
            if (batch.period, metric) in seen and not batch.correct:
                raise Refused(
                    f"{metric} for {batch.period} is given twice in the batch; a reading stands unless "
                    "corrected, with a reason",
                    RefusalKind.ALREADY_RECORDED,
                )
            seen.add((batch.period, metric))
