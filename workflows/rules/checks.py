"""Whether the rules allow a command: checks over a read-only plan and state.

Every check raises `Refused` with a sentence about the business ("needs one of the roles
executive_sponsor, transition_lead") and a ``kind`` the callers add their own hints by; none
changes anything, so the workflow's validators can run them before a command is accepted. Each
command's check is named in `workflows.rules.registry`, which dispatches to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from models.commands import (
    Amend,
    Approve,
    Cancel,
    ChangeRoster,
    Command,
    Delegate,
    Escalate,
    GateDecision,
    Pause,
    PullFeed,
    RaidAdd,
    RaidClose,
    ReadingsBatch,
    RecordReadings,
    Reject,
    Resume,
    RetryNotices,
    TrustKeys,
    Waive,
)
from models.plan import (
    CONTROL_ROLES,
    SENIOR_ROLES,
    WAIVE_ROLES,
    Person,
)
from models.signing import verify
from workflows.rules import amendments, feeds, keys, raid, readings, replays
from workflows.rules.clock import View
from workflows.rules.delegation import acting_for
from workflows.rules.kinds import kind_of, taking
from workflows.rules.lookups import escalation_level, gate_of, person, recorded_readings, require_role
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import DELEGATION_DATES, KPI_PROVENANCE, READINGS_STAND, ROSTER_AUTHORITY

LEAD_ROLES = ("program_manager", "transition_lead")


def check_signed(v: View, command: Command, origin: tuple[str, str | None] | None = None) -> None:
    """Refuse a command not signed by a key the transition trusts, or signed without a request id;
    ``origin`` is the transition and run family it was signed for, when not this one (a
    program's command relayed to its workstream)."""
    transition, run = origin or (v.state.id, v.state.first_run_id)
    # The signature covers the transition, its run family, the time, the command and its request
    # id, so a signed command cannot be replayed elsewhere; without a request id it could be
    # replayed here.
    if replays.bound(v):
        if command.signed_at is None or not verify(v.state.trusted_keys, transition, command, run):
            raise Refused(f"the {command.update} command is not signed by a trusted key", RefusalKind.NOT_SIGNED)
    elif not verify(v.state.trusted_keys, transition, command):
        raise Refused(f"the {command.update} command is not signed by a trusted key", RefusalKind.NOT_SIGNED)
    if not command.request_id:
        raise Refused("a signed command needs a request id, so that it counts once", RefusalKind.NOT_SIGNED)
    if replays.bound(v):
        replays.check_not_forgotten(v, command)
        replays.check_not_refused(v, command)


def check_gate_decision(v: View, command: GateDecision, now: datetime | None = None) -> None:
    """Refuse a decision on a gate that is not open, or by someone who may not take it (nor
    stands in, at ``now``, for someone who may)."""
    if v.state.state == "paused":
        raise Refused(
            f"the transition is paused ({v.state.pause_reason}); resume it before deciding on gates", RefusalKind.PAUSED
        )
    _check_live(v)
    spec, gate = gate_of(v, command.gate)
    if gate.status != "open":
        raise Refused(
            f"gate '{gate.key}' is {gate.status}, not open; no decision can change it now", RefusalKind.GATE_NOT_OPEN
        )
    if isinstance(command, Waive):
        _require_or_for(v, command.by, WAIVE_ROLES, f"waive gate '{gate.key}'", now)
        return
    kind = kind_of(spec)
    if isinstance(command, Reject):
        _require_or_for(v, command.by, kind.deciders(spec), f"reject gate '{gate.key}'", now)
        return
    if command.update not in kind.takes:
        taker = taking(command.update)
        assert taker is not None, f"no gate kind takes {command.update}"
        raise Refused(taker.elsewhere(gate.key, kind, command.update), RefusalKind.WRONG_GATE_KIND)
    roles, what = kind.deciders(spec), f"sign off gate '{gate.key}'"
    kind.check(v, spec, gate, command, lambda: _require_or_for(v, command.by, roles, what, now))


def _require_or_for(v: View, by: str, roles: Iterable[str], what: str, now: datetime | None) -> None:
    roles = list(roles)
    try:
        require_role(v, by, roles, what)
    except Refused:
        holds = {p.id for p in v.state.people if set(p.roles) & set(roles)}
        if acting_for(v, by, holds.__contains__, now) is None:
            raise


def _check_live(v: View) -> None:
    if v.state.state in ("completed", "cancelled"):
        raise Refused(f"the transition is {v.state.state}; it takes no more decisions", RefusalKind.ENDED)


def check_pause(v: View, command: Pause, now: datetime | None = None) -> None:
    """Only a lead pauses, and only a running transition."""
    _check_live(v)
    require_role(v, command.by, CONTROL_ROLES, "pause the transition")
    if v.state.state == "paused":
        raise Refused(f"the transition is already paused ({v.state.pause_reason})", RefusalKind.ALREADY_PAUSED)


def check_resume(v: View, command: Resume, now: datetime | None = None) -> None:
    """Only a lead resumes, and only a paused transition."""
    _check_live(v)
    require_role(v, command.by, CONTROL_ROLES, "resume the transition")
    if v.state.state != "paused":
        raise Refused("the transition is not paused", RefusalKind.NOT_PAUSED)


def check_cancel(v: View, command: Cancel, now: datetime | None = None) -> None:
    """Only those who may waive a gate end the transition."""
    _check_live(v)
    require_role(v, command.by, WAIVE_ROLES, "cancel the transition")


def check_change_roster(v: View, command: ChangeRoster, now: datetime | None = None) -> None:
    """Who may change whose entry, and only people on the roster taken off it."""
    _check_live(v)
    if v.changed(ROSTER_AUTHORITY):
        _check_authority(v, command)
    else:
        require_role(v, command.by, CONTROL_ROLES, "change the roster")
    ids = {p.id for p in v.state.people}
    for person_id in command.remove:
        if person_id not in ids:
            raise Refused(f"'{person_id}' is not on the roster, so cannot be removed", RefusalKind.UNKNOWN_PERSON)
    if not command.add and not command.remove:
        raise Refused("nothing to change: name people to add or remove", RefusalKind.EMPTY_CHANGE)


def check_escalate(v: View, command: Escalate, now: datetime | None = None) -> None:
    """Only a lead escalates by hand, to a level the ladder has."""
    _check_live(v)
    require_role(v, command.by, CONTROL_ROLES, "escalate the transition")
    escalation_level(v, command.level)


def check_delegate(v: View, command: Delegate, now: datetime | None = None) -> None:
    """See `_check_delegation`."""
    _check_live(v)
    _check_delegation(v, command, now)


def check_retry_notices(v: View, command: RetryNotices, now: datetime | None = None) -> None:
    """Only a lead sends failed notifications again, and only when one failed."""
    _check_live(v)
    require_role(v, command.by, CONTROL_ROLES, "send failed notifications again")
    if not v.state.failed:
        raise Refused(
            "no notification of this transition has failed; nothing to send again", RefusalKind.NOTHING_FAILED
        )


def check_amendment_decision(v: View, command: Approve | Reject, now: datetime | None = None) -> None:
    """An approval or rejection of an ``amendment_N`` gate: the plan's, not a phase's."""
    _check_live(v)
    amendments.check_decision(v, command)


def check_amend(v: View, command: Amend, now: datetime | None = None) -> None:
    """See `amendments.check_proposal`."""
    _check_live(v)
    amendments.check_proposal(v, command)


def check_pull_feed(v: View, command: PullFeed, now: datetime | None = None) -> None:
    """See `feeds.check_pull`."""
    _check_live(v)
    feeds.check_pull(v, command, now)


def check_raid_add(v: View, command: RaidAdd, now: datetime | None = None) -> None:
    """See `raid.check_add`."""
    _check_live(v)
    raid.check_add(v, command, now)


def check_raid_close(v: View, command: RaidClose, now: datetime | None = None) -> None:
    """See `raid.check_close`."""
    _check_live(v)
    raid.check_close(v, command)


def check_trust_keys(v: View, command: TrustKeys, now: datetime | None = None) -> None:
    """See `keys.check`."""
    keys.check(v, command)


def check_batch(v: View, command: ReadingsBatch, now: datetime | None = None) -> None:
    """Each period's readings as `check_readings`, and no period twice."""
    for batch in command.batches:
        check_readings(v, batch)
    readings.batch_repeats(v, command.batches)


def _check_delegation(v: View, command: Delegate, now: datetime | None) -> None:
    """Only the person, or an executive sponsor of their side, delegates; both ends on the roster."""
    me, them = person(v, command.by), person(v, command.person)
    if me.id != them.id and not (me.org == them.org and "executive_sponsor" in me.roles):
        raise Refused(
            f"{me.id} may not delegate for {them.id}: only {them.id} or an executive sponsor of their side may",
            RefusalKind.NOT_ALLOWED,
        )
    if command.end:
        if not any(d.person == them.id and d.ended_at is None for d in v.state.delegations):
            raise Refused(f"{them.id} has no delegation to end", RefusalKind.NO_DELEGATION)
        return
    assert command.to is not None
    person(v, command.to)
    if command.to == them.id:
        raise Refused(f"{them.id} cannot delegate to themselves", RefusalKind.NOT_ALLOWED)
    if now is not None and command.until is not None and v.changed(DELEGATION_DATES):
        today = v.plan.calendar.local_day(now) if v.plan.calendar else now.date()
        if command.until < today:
            raise Refused(
                f"--until {command.until} has passed; a delegation runs to a day from {today} on", RefusalKind.BAD_INPUT
            )


def _check_authority(v: View, command: ChangeRoster) -> None:
    """Who may change whose entry (trust: Authority): never one's own roles; sponsor-level roles
    by an executive sponsor of the person's org; other roles by a lead of that org."""
    me = person(v, command.by)
    current = {p.id: p for p in v.state.people}
    changes: list[tuple[str, Person | None, Person | None]] = [(p.id, current.get(p.id), p) for p in command.add]
    changes += [(pid, current.get(pid), None) for pid in command.remove if pid not in {p.id for p in command.add}]
    for pid, before, after in changes:
        old, new = set(before.roles if before else ()), set(after.roles if after else ())
        touched = (old ^ new) or old or new  # editing an entry touches every role it holds
        moved = before is not None and after is not None and before.org != after.org
        if pid == me.id and (old != new or moved or after is None):
            raise Refused(
                f"{me.id} may not change their own roles; another person allowed to must", RefusalKind.NOT_ALLOWED
            )
        for org in sorted({p.org for p in (before, after) if p is not None}):
            senior = sorted(touched & set(SENIOR_ROLES))
            if senior and not (me.org == org and "executive_sponsor" in me.roles):
                raise Refused(
                    f"{me.id} may not grant or remove {', '.join(senior)} for {pid} ({org}): that needs an "
                    f"executive_sponsor of {org}",
                    RefusalKind.NOT_ALLOWED,
                )
            if not senior and not (me.org == org and set(me.roles) & {"executive_sponsor", *LEAD_ROLES}):
                raise Refused(
                    f"{me.id} may not change the roles of {pid} ({org}): that needs a program_manager or "
                    f"transition_lead of {org}",
                    RefusalKind.NOT_ALLOWED,
                )


def check_readings(v: View, command: RecordReadings, now: datetime | None = None) -> None:
    """Readings of the plan's KPIs, by a KPI reporter, not recorded already unless corrected."""
    _check_live(v)
    known = [k.key for k in v.plan.kpis]
    for metric in command.values:
        if metric not in known:
            raise Refused(f"unknown metric '{metric}'; the plan's KPIs: {', '.join(known)}", RefusalKind.UNKNOWN_METRIC)
    if not v.changed(KPI_PROVENANCE):
        if command.by is not None:
            person(v, command.by)
        return
    if command.by is None:
        raise Refused(
            f"a reading needs the person reporting it (--by), holding one of the roles {', '.join(v.plan.kpi_reporters)}",
            RefusalKind.NOT_ALLOWED,
        )
    require_role(v, command.by, v.plan.kpi_reporters, "record KPI readings")
    if v.changed(READINGS_STAND):
        if old := readings.stood_long_ago(v, command.period, list(command.values)):
            raise Refused(
                f"{', '.join(old)} for {command.period} was recorded long ago and stands (bpo audit shows it); "
                "a reading that old is no longer corrected here",
                RefusalKind.ALREADY_RECORDED,
            )
        if readings.full(v, command.period, list(command.values)):
            raise Refused(
                f"this transition has recorded {readings.MAX_READINGS} readings, as many as it keeps; "
                "a new period is refused",
                RefusalKind.TOO_MANY_READINGS,
            )
    recorded = recorded_readings(v, command.period)
    if command.correct:
        if not command.reason:
            raise Refused("a correction needs a reason (--reason)", RefusalKind.REASON_REQUIRED)
        for metric in command.values:
            if metric not in recorded:
                raise Refused(
                    f"nothing recorded for {metric} in {command.period} to correct", RefusalKind.NOTHING_TO_CORRECT
                )
        return
    for metric in command.values:
        if metric in recorded:
            raise Refused(
                f"{metric} for {command.period} is already recorded ({recorded[metric]:g}); a reading stands "
                "unless corrected, with a reason",
                RefusalKind.ALREADY_RECORDED,
            )
