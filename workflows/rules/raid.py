"""The RAID log: risks, actions, issues and decisions, numbered per transition (``R-1``, ``A-2``).

An open item that ``blocks`` a gate keeps it from passing whatever its sign-offs; closing the
item lets it pass if nothing else holds it. An action past its due date reminds its owner and,
as late again as the time it was given, escalates: health ``at_risk`` and the first level of the
ladder told. A ``critical`` issue escalates at once: health ``escalated`` and the ladder's top
level told.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from models.commands import RaidAdd, RaidClose
from models.messages import RaidItem
from models.plan import CONTROL_ROLES
from models.plan_words import EscalationLevel
from workflows.rules import texts
from workflows.rules.clock import View
from workflows.rules.gates import recheck
from workflows.rules.lookups import person
from workflows.rules.outbox import Recorder
from workflows.rules.phases import raise_health
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import NOTICE_NAMES

PREFIX = {"risk": "R", "action": "A", "issue": "I", "decision": "D"}


def check_add(v: View, command: RaidAdd, now: datetime | None) -> None:
    """Refuse an item whose owner is off the roster, whose gate is unknown or behind, or whose
    due date has passed."""
    person(v, command.by)
    if not any(p.id == command.owner for p in v.state.people):
        raise Refused(
            f"owner '{command.owner}' is not on the roster; an item needs an owner who is", RefusalKind.UNKNOWN_PERSON
        )
    if command.blocks is not None:
        ahead = [g.key for p in v.plan.phases[v.state.phase_index :] for g in p.gates]
        if command.blocks not in ahead:
            known = ", ".join(ahead) or "none"
            raise Refused(
                f"no gate '{command.blocks}' is open or ahead to block; gates: {known}", RefusalKind.UNKNOWN_GATE
            )
        held = next((g for g in v.state.gates if g.key == command.blocks), None)
        if held is not None and held.status != "open":
            raise Refused(
                f"gate '{command.blocks}' is already {held.status}; nothing left to block", RefusalKind.GATE_NOT_OPEN
            )
    if command.due is not None and now is not None and command.due < today(v, now):
        raise Refused(f"due date {command.due} has passed; give one from {today(v, now)} on", RefusalKind.BAD_INPUT)


def check_close(v: View, command: RaidClose) -> None:
    """Refuse closing an unknown item, one closed already, or by someone who may not."""
    item = next((i for i in v.state.raid if i.id == command.item), None)
    if item is None:
        known = ", ".join(i.id for i in v.state.raid) or "none yet"
        raise Refused(f"no RAID item '{command.item}' in this transition; items: {known}", RefusalKind.UNKNOWN_ITEM)
    if item.closed_at is not None:
        raise Refused(
            f"{item.id} was closed by {item.closed_by} on {item.closed_at:%Y-%m-%d}", RefusalKind.ALREADY_CLOSED
        )
    me = person(v, command.by)
    if me.id not in (item.owner, item.opened_by) and not set(me.roles) & set(CONTROL_ROLES):
        raise Refused(
            f"{me.id} may not close {item.id}: its owner, whoever opened it, or a lead may", RefusalKind.NOT_ALLOWED
        )


def add(m: Recorder, command: RaidAdd, now: datetime) -> None:
    """Open an item, tell its owner, and escalate a critical issue at once."""
    item = RaidItem(
        id=f"{PREFIX[command.kind]}-{len(m.state.raid) + 1}",
        kind=command.kind,
        title=command.title,
        owner=command.owner,
        due=command.due,
        severity=command.severity,
        blocks=command.blocks,
        opened_by=command.by,
        opened_at=now,
    )
    m.state.raid = [*m.state.raid, item]
    m.decided("raid_added", command.blocks, command, now, command.title, {"item": item.id, "kind": item.kind})
    owner = [p for p in m.state.people if p.id == item.owner]
    m.tell(
        "raid_assigned", texts.raid_assigned(m.plan, item, names=m.changed(NOTICE_NAMES)), owner, now, {"item": item.id}
    )
    if item.kind == "issue" and item.severity == "critical":
        _escalate(m, item, "escalated", top=True, now=now)


def close(m: Recorder, command: RaidClose, now: datetime) -> None:
    """Close an item; a gate it held passes now if its sign-offs are in."""
    item = next(i for i in m.state.raid if i.id == command.item)
    closed = item.model_copy(update={"closed_at": now, "closed_by": command.by, "note": command.note})
    m.state.raid = [closed if i.id == item.id else i for i in m.state.raid]
    m.decided("raid_closed", item.blocks, command, now, command.note, {"item": item.id})
    if item.blocks and m.phase is not None:
        recheck(m, now)


def watch(m: Recorder, now: datetime) -> None:
    """Remind the owners of overdue actions, then escalate those as late again."""
    for item in m.state.raid:
        if item.kind != "action" or item.due is None or item.closed_at is not None:
            continue
        reminded, escalated = item.reminded, item.escalated
        if not reminded and now >= overdue_at(m, item):
            reminded = True
            owner = [p for p in m.state.people if p.id == item.owner]
            m.tell("raid_overdue", texts.raid_overdue(m.plan, item), owner, now, {"item": item.id})
        if not escalated and now >= escalate_at(m, item):
            escalated = True
            _escalate(m, item, "at_risk", top=False, now=now)
        if (reminded, escalated) != (item.reminded, item.escalated):
            updated = item.model_copy(update={"reminded": reminded, "escalated": escalated})
            m.state.raid = [updated if i.id == item.id else i for i in m.state.raid]


def next_moment(v: View) -> datetime | None:
    """When an open action next falls overdue or due for escalation."""
    moments = []
    for item in v.state.raid:
        if item.kind == "action" and item.due is not None and item.closed_at is None:
            if not item.reminded:
                moments.append(overdue_at(v, item))
            elif not item.escalated:
                moments.append(escalate_at(v, item))
    return min(moments, default=None)


def overdue_at(v: View, item: RaidItem) -> datetime:
    """The end of an item's due day, in the plan calendar's zone (else UTC)."""
    assert item.due is not None
    zone = v.plan.calendar.tz if v.plan.calendar else UTC
    return datetime.combine(item.due + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def escalate_at(v: View, item: RaidItem) -> datetime:
    """As late again as the time the action was given (a day at least)."""
    given = max(overdue_at(v, item) - item.opened_at, timedelta(days=1))
    return overdue_at(v, item) + given


def today(v: View, now: datetime) -> date:
    """The date at ``now`` in the plan calendar's zone (else UTC)."""
    return v.plan.calendar.local_day(now) if v.plan.calendar else now.astimezone(UTC).date()


def _escalate(m: Recorder, item: RaidItem, health: str, top: bool, now: datetime) -> None:
    ladder: list[EscalationLevel] = m.plan.ladder(m.phase) if m.phase else m.plan.escalation
    level = (ladder[-1] if top else ladder[0]) if ladder else None
    raise_health(m, m.phase_key, health)  # type: ignore[arg-type]
    roles = level.notify if level else list(CONTROL_ROLES)
    detail = {"item": item.id, "kind": item.kind, "severity": item.severity, "health": m.state.health}
    m.audit("raid_escalated", now, gate=item.blocks, detail=detail)
    m.notify("raid_escalated", texts.raid_escalated(m.plan, item, m.state.health), roles, now, detail)
