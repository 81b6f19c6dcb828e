"""KPI feeds: each source is pulled once a reporting period ends, tried again with growing pauses
while it cannot be reached, and a period it gives nothing for is reported as "no data from feed"
to the KPI's reporters, and asked again at every later pull until it comes.

The rules keep the schedule and record what a pull brought; the workflow runs the pulls (an
activity each) that `take` hands it and gives their results to `pulled`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.commands import PullFeed, RecordReadings
from models.feeds import MAX_CATCH_UP, FeedPull, FeedResult, FeedState, bounds, next_period, period_of
from models.gates import KpiGate
from workflows.rules import texts
from workflows.rules.clock import View
from workflows.rules.decisions import record_readings
from workflows.rules.lookups import recorded_readings, require_role
from workflows.rules.outbox import Recorder
from workflows.rules.readings import stood_long_ago
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.versions import READINGS_STAND

FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
MAX_MISSING = 52


def _sources(v: View) -> list[str]:
    """The sources some KPI is pulled from."""
    return [f.name for f in v.plan.feeds if v.plan.feed_metrics(f.name)]


def _due(v: View, fs: FeedState, name: str, now: datetime) -> list[str]:
    """The periods of ``name`` that ended (and settled for the source's ``after``) by ``now``."""
    source = next(f for f in v.plan.feeds if f.name == name)
    due: list[str] = []
    label = fs.next_period
    while len(due) < MAX_CATCH_UP and bounds(label, v.plan.reporting_period)[1] + source.after <= now:
        due.append(label)
        label = next_period(label, v.plan.reporting_period)
    return due


def _ask(fs: FeedState, periods: list[str], now: datetime) -> None:
    fs.asking = list(dict.fromkeys([*fs.asking, *fs.missing, *periods]))
    fs.asked_at, fs.attempts, fs.retry_at = now, 0, None


def schedule(m: Recorder, now: datetime) -> None:
    """Start tracking new sources, and ask each for the periods that have ended since."""
    for name in _sources(m):
        fs = m.state.feeds.setdefault(name, FeedState(next_period=period_of(now, m.plan.reporting_period)))
        if fs.asking:
            continue
        due = _due(m, fs, name, now)
        if due:
            fs.next_period = next_period(due[-1], m.plan.reporting_period)
            _ask(fs, due, now)


def next_moment(v: View) -> datetime | None:
    """When a source is next pulled, or tried again."""
    if v.state.state != "running":
        return None
    moments = []
    for name, fs in v.state.feeds.items():
        source = next((f for f in v.plan.feeds if f.name == name), None)
        if source is None:
            continue
        if fs.asking:
            if fs.retry_at is not None:
                moments.append(fs.retry_at)
        else:
            moments.append(bounds(fs.next_period, v.plan.reporting_period)[1] + source.after)
    return min(moments, default=None)


def take(m: Recorder, now: datetime, pulling: set[str]) -> list[FeedPull]:
    """The pulls to start now: sources with periods asked, not being pulled, not waiting to retry.
    Changes nothing (a workflow asks it in a wait condition); `started` says one began."""
    if m.state.state != "running":
        return []
    pulls = []
    for name, fs in m.state.feeds.items():
        source = next((f for f in m.plan.feeds if f.name == name), None)
        if source is None or not fs.asking or name in pulling or (fs.retry_at and fs.retry_at > now):
            continue
        pulls.append(
            FeedPull(
                transition_id=m.state.id,
                source=source,
                client=m.plan.client,
                metrics=m.plan.feed_metrics(name),
                periods=list(fs.asking),
                every=m.plan.reporting_period,
            )
        )
    return pulls


def started(m: Recorder, source: str) -> None:
    """A pull of ``source`` began: its retry is no longer waited for."""
    m.state.feeds[source].retry_at = None


def pulled(m: Recorder, asked: FeedPull, result: FeedResult, now: datetime) -> None:
    """Record what a pull brought; report each period without data; or, when the source could
    not be reached, try again later, and once ``give_up_after`` has passed report the periods."""
    fs = m.state.feeds.get(asked.source.name)
    if fs is None or m.state.state in ("completed", "cancelled"):
        return
    if result.unreachable is not None:
        fs.attempts += 1
        fs.last_problem = result.unreachable
        if fs.asked_at is None or now - fs.asked_at < asked.source.give_up_after:
            fs.retry_at = now + min(FIRST_RETRY * 2 ** (fs.attempts - 1), LONGEST_RETRY)
            return
        reason = f"unreachable for {asked.source.give_up_after} ({result.unreachable})"
        for period in asked.periods:
            _no_data(m, fs, asked, period, reason, now)
    else:
        fs.last_at, fs.last_problem = now, None
        fs.last_sha256 = next(reversed(result.hashes.values()), fs.last_sha256)
        for period in asked.periods:
            if period in result.readings:
                _record(m, fs, asked, period, result, now)
            else:
                _no_data(m, fs, asked, period, result.no_data.get(period, "the feed had nothing for it"), now)
    fs.asking = [p for p in fs.asking if p not in asked.periods]
    fs.attempts, fs.retry_at = 0, None


def _record(m: Recorder, fs: FeedState, asked: FeedPull, period: str, result: FeedResult, now: datetime) -> None:
    fs.missing = [p for p in fs.missing if p != period]
    recorded = recorded_readings(m, period)  # a reading recorded by hand meanwhile stands
    old = set(stood_long_ago(m, period, list(result.readings[period]))) if m.changed(READINGS_STAND) else set()
    values = {k: v for k, v in result.readings[period].items() if k not in recorded and k not in old}
    differs = {k: v for k, v in result.readings[period].items() if k in recorded and v != recorded[k]}
    if differs and m.changed(READINGS_STAND):  # never overwritten; a reporter corrects it if the feed is right
        standing = {k: recorded[k] for k in differs}
        detail = {"feed": asked.source.name, "period": period, "values": differs, "standing": standing}
        m.audit("feed_reading_differs", now, detail=detail)
    if not values:
        return
    _hold_place(m, period, list(values))
    command = RecordReadings(period=period, values=values, via="feed", operator=f"feed {asked.source.name}")
    record_readings(m, command, now, provenance={"feed": asked.source.name, "sha256": result.hashes.get(period)})


def _no_data(m: Recorder, fs: FeedState, asked: FeedPull, period: str, reason: str, now: datetime) -> None:
    if period in fs.missing:  # told once; asked again at every pull
        return
    fs.missing = [*fs.missing, period][-MAX_MISSING:]
    metrics = list(asked.metrics)
    detail = {"feed": asked.source.name, "period": period, "metrics": metrics, "reason": reason[:500]}
    m.audit("feed_no_data", now, detail=detail)
    message = texts.feed_no_data(m.plan, asked.source.name, period, metrics, reason[:500])
    m.notify("feed_no_data", message, m.plan.kpi_reporters, now, detail)
    _hold_place(m, period, metrics)  # a KPI gate's streak does not jump the missing period


def _hold_place(m: Recorder, period: str, metrics: list[str]) -> None:
    """Put ``period`` in its place among the periods of the open KPI gates that count ``metrics``:
    a period recovered late counts where it falls, not at the end."""
    phase = m.phase
    if phase is None:
        return
    for gate in m.state.gates:
        spec = phase.gate(gate.key)
        counts = isinstance(spec, KpiGate) and gate.status == "open" and set(spec.metrics) & set(metrics)
        if counts and period not in gate.periods:
            gate.periods = sorted([*gate.periods, period])


def pull_now(m: Recorder, command: PullFeed, now: datetime) -> None:
    """Ask the sources for the periods due and missing, and the ``periods`` named, at once."""
    for name in [command.feed] if command.feed else _sources(m):
        fs = m.state.feeds[name]
        due = _due(m, fs, name, now)
        if due:
            fs.next_period = next_period(due[-1], m.plan.reporting_period)
        _ask(fs, [*due, *command.periods], now)
        m.decided("feed_pull_requested", None, command, now, None, {"feed": name, "periods": fs.asking})


def check_pull(v: View, command: PullFeed, now: datetime | None) -> None:
    """Refuse a pull by someone who may not record readings, of a source the plan does not pull
    from, of a period not ended, or one that would ask for nothing."""
    assert command.by is not None
    require_role(v, command.by, v.plan.kpi_reporters, "pull a KPI feed")
    pulled_from = _sources(v)
    sources = {name: fs for name, fs in v.state.feeds.items() if name in pulled_from}
    if not sources:
        raise Refused("the plan pulls no KPI from a feed", RefusalKind.NO_FEED)
    if command.feed and command.feed not in sources:
        raise Refused(f"unknown feed '{command.feed}'; the plan's feeds: {', '.join(sources)}", RefusalKind.NO_FEED)
    every = v.plan.reporting_period
    for period in command.periods:
        try:
            ends = bounds(period, every)[1]
        except ValueError as exc:
            raise Refused(f"{exc} (the plan reports {every})", RefusalKind.BAD_INPUT) from None
        if now is not None and ends > now:
            raise Refused(f"{period} is still under way; it ends {ends:%Y-%m-%d %H:%M} UTC", RefusalKind.NOT_ENDED)
    chosen = {command.feed: sources[command.feed]} if command.feed else sources
    waiting = any(fs.asking or fs.missing or (now and _due(v, fs, name, now)) for name, fs in chosen.items())
    if now is not None and not command.periods and not waiting:
        first = min(bounds(fs.next_period, every)[1] for fs in chosen.values())
        raise Refused(
            f"nothing to pull: every ended period is in; the next ends {first:%Y-%m-%d %H:%M} UTC "
            "(name one with --period to pull it again)",
            RefusalKind.NOTHING_TO_PULL,
        )
