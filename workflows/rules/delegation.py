"""Delegation: until a date, one person decides whatever another may, in their stead.

A delegation never chains: Q acting for P gains P's authority, but R acting for Q gains only
Q's own. Requests and reminders for P go to Q too; the audit says whom Q decided for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from models.messages import Delegation
from workflows.rules.clock import View


def ends(delegation: Delegation) -> datetime:
    """When a delegation stops: the end of its ``until`` day (UTC), or when it was ended."""
    last = datetime.combine(delegation.until + timedelta(days=1), time(0), tzinfo=UTC)
    return min(last, delegation.ended_at) if delegation.ended_at else last


def active(v: View, now: datetime | None) -> list[Delegation]:
    """The delegations in force at ``now`` (none when no moment is given)."""
    if now is None:
        return []
    return [d for d in v.state.delegations if d.at <= now < ends(d)]


def delegates(v: View, person_id: str, now: datetime | None) -> list[str]:
    """Who decides in ``person_id``'s stead at ``now``."""
    return [d.to for d in active(v, now) if d.person == person_id]


def acting_for(v: View, by: str, may: Callable[[str], bool], now: datetime | None) -> str | None:
    """Whom ``by`` decides for: None when ``may(by)`` (they decide as themselves) or when no one
    who delegated to them may; else the first such person, on the roster's order."""
    if may(by):
        return None
    principals = {d.person for d in active(v, now) if d.to == by}
    return next((p.id for p in v.state.people if p.id in principals and may(p.id)), None)


def next_end(v: View, now: datetime) -> datetime | None:
    """When the next delegation in force ends."""
    return min((ends(d) for d in active(v, now)), default=None)
