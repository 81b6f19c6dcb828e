"""Pinned evidence, checked again: an approval's evidence underpins the contract for as long as the
transition runs, so its source is fetched again daily while the transition is in its phases and
weekly in steady state, where a check a day would be most of a year's history (never while
paused, never once the transition ended).

A change ("changed since it was approved") is audited as ``evidence_changed`` and told to the
points of contact and program managers, as a rework is: once per approval. A source that cannot
be reached is audited once as ``evidence_unreachable``, and again only after it answered in
between. The rules keep the schedule and what was told; the workflow runs the check (an activity)
that `take` hands it and gives its verdicts to `rechecked`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.evidence import EvidencePin, EvidenceWatch, RecheckItem, RecheckRequest, RecheckResult, Watched
from models.plan import NOTIFIED_OF_CONTROL
from workflows.rules import texts
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder
from workflows.rules.versions import NOTICE_NAMES

CHECK_EVERY = timedelta(days=1)
CHECK_EVERY_IN_STEADY_STATE = timedelta(days=7)
"""About eleven events a check: daily for a year would be twenty times the rest of the year."""
MAX_WATCHED = 50
"""Approvals whose evidence is watched at most; the oldest drop out (their pins stay in the trail
and `bpo evidence --verify` still checks them)."""


def watch(m: Recorder, gate: str, by: str, evidence: str, pin: EvidencePin, now: datetime) -> None:
    """Start checking the evidence ``by`` pinned on ``gate`` daily, the first time a day from now."""
    w = m.state.evidence_watch or EvidenceWatch()
    item = Watched(gate=gate, phase=m.phase_key, by=by, evidence=evidence, sha256=pin.sha256)
    w.items = [*w.items, item][-MAX_WATCHED:]
    if w.next_at is None:
        w.next_at = now + CHECK_EVERY
    m.state.evidence_watch = w


def _watching(v: View) -> EvidenceWatch | None:
    w = v.state.evidence_watch
    return w if w is not None and w.items and w.next_at is not None and v.state.state == "running" else None


def next_moment(v: View) -> datetime | None:
    """When the pinned evidence is next checked; None while paused or once ended."""
    w = _watching(v)
    return w.next_at if w else None


def take(v: View, now: datetime) -> RecheckRequest | None:
    """The check to run now, if one is due: each pinned evidence once. Changes nothing (a
    workflow asks it in a wait condition); `started` says it began."""
    w = _watching(v)
    if w is None or w.next_at is None or w.next_at > now:
        return None
    pairs = dict.fromkeys((i.evidence, i.sha256) for i in w.items)
    items = [RecheckItem(evidence=evidence, sha256=sha256) for evidence, sha256 in pairs]
    return RecheckRequest(transition_id=v.state.id, items=items)


def started(m: Recorder, now: datetime) -> None:
    """A check began: the next one is due a day from now, a week in steady state (a check lost
    with its worker waits for that one)."""
    w = m.state.evidence_watch
    if w is not None:
        w.next_at = now + (CHECK_EVERY if m.phase is not None else CHECK_EVERY_IN_STEADY_STATE)


def rechecked(m: Recorder, asked: RecheckRequest, result: RecheckResult, now: datetime) -> None:
    """Keep each verdict; audit and tell a change once per approval, and an unreachable source
    once until it answers again."""
    w = m.state.evidence_watch
    if w is None or m.state.state in ("completed", "cancelled") or len(result.verdicts) != len(asked.items):
        return
    found = {(a.evidence, a.sha256): v for a, v in zip(asked.items, result.verdicts, strict=True)}
    for item in w.items:
        verdict = found.get((item.evidence, item.sha256))
        if verdict is None:
            continue
        detail = {"approver": item.by, "evidence": item.evidence, "sha256": item.sha256, "approved_in": item.phase}
        if verdict == "changed" and not item.told:
            item.told = True
            m.audit("evidence_changed", now, gate=item.gate, detail=detail)
            message = texts.evidence_changed(m.plan, item.gate, item.by, item.evidence, names=m.changed(NOTICE_NAMES))
            m.notify("evidence_changed", message, NOTIFIED_OF_CONTROL, now, {**detail, "gate": item.gate})
        if verdict == "unreachable" and item.verdict != "unreachable":
            m.audit("evidence_unreachable", now, gate=item.gate, detail=detail)
        item.verdict = verdict
