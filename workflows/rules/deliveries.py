"""The durable outbox of notices: what was sent, what waits for another try, what failed.

Every notice goes out through every channel of the plan. A delivery that fails in a way another
try may mend waits in ``state.pending`` (carried across continue-as-new, so nothing is dropped)
and is tried again with a growing pause, until ``give_up`` has passed since its first try; then,
or at once when the channel refuses it for good, it is audited as ``notification_failed`` and
kept in ``state.failed``, where ``bpo notices --retry`` finds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.commands import RetryNotices
from models.deliveries import AuditEntry, Delivery, DeliveryOutcome, Pending
from workflows.rules.clock import View
from workflows.rules.outbox import Recorder

FIRST_PAUSE = timedelta(seconds=5)
LONGEST_PAUSE = timedelta(minutes=15)
MAX_FAILED = 200
"""Failed deliveries kept for a retry by hand; older ones stay in the audit trail only."""


def pause_after(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed tries: 5s, 10s, 20s, ... at most 15 minutes."""
    return min(FIRST_PAUSE * 2 ** min(max(attempts - 1, 0), 20), LONGEST_PAUSE)


def due(v: View, now: datetime) -> list[Pending]:
    """The pending deliveries whose next try has come."""
    return [p for p in v.state.pending if p.next_at <= now]


def take_due(m: Recorder, now: datetime) -> list[Delivery]:
    """The deliveries to try now, taken out of ``pending``; `settle` puts back what fails again."""
    ready = due(m, now)
    if ready:
        m.state.pending = [p for p in m.state.pending if p.next_at > now]
    m.state.trying = [*m.state.trying, *ready]
    return [p.delivery for p in ready]


def next_retry(v: View) -> datetime | None:
    """When the next pending delivery or unwritten audit entry is to be tried, if any waits."""
    moments = [p.next_at for p in v.state.pending]
    if v.state.unwritten and v.state.audit_retry_at:
        moments.append(v.state.audit_retry_at)
    return min(moments, default=None)


def waiting(m: Recorder, now: datetime) -> bool:
    """Whether anything is due to be flushed at ``now``: new entries or notices, a retry."""
    s = m.state
    retry_rows = bool(s.unwritten) and s.audit_retry_at is not None and s.audit_retry_at <= now
    return bool(m.outbox.audit or m.outbox.notices or due(m, now) or retry_rows)


def settle(
    m: Recorder, deliveries: list[Delivery], outcomes: list[DeliveryOutcome], now: datetime, give_up: timedelta
) -> int:
    """Take the outcome of each delivery tried: a sent one the activity could not audit is audited
    through the outbox; one to try again waits in ``pending``; one refused for good, or failing
    past ``give_up``, is audited as failed and kept in ``failed``. Returns how many failed."""
    trying = {_key(p.delivery): p for p in m.state.trying}
    m.state.trying = []
    failed = 0
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        before = trying.get(_key(delivery))
        attempts = (before.attempts if before else 0) + 1
        since = before.since if before else now
        if outcome.status == "sent":
            if outcome.entry is not None:
                m.outbox.audit.append(outcome.entry)
        elif outcome.status == "retry" and now + pause_after(attempts) - since <= give_up:
            retry = Pending(delivery=delivery, attempts=attempts, since=since, next_at=now + pause_after(attempts))
            m.state.pending = [*m.state.pending, retry.model_copy(update={"error": outcome.error})]
        elif outcome.status in ("retry", "failed"):
            failed += 1
            error = outcome.error or "failed"
            if outcome.status == "retry":
                error = f"{error} (given up after {attempts} tries)"
            m.delivery_failed(delivery, error, now)
            lost = Pending(delivery=delivery, attempts=attempts, since=since, next_at=now, error=error)
            m.state.failed = [*m.state.failed, lost][-MAX_FAILED:]
    return failed


def take_rows(m: Recorder) -> list[AuditEntry]:
    """The audit entries to write now: those the database did not take before, then the new."""
    rows, m.state.unwritten = [*m.state.unwritten, *m.outbox.audit], []
    m.outbox.audit = []
    return rows


def rows_kept(m: Recorder, rows: list[AuditEntry], error: str | None, now: datetime) -> None:
    """After a flush: entries the database refused wait in ``unwritten`` for a later try."""
    if error is None:
        m.state.audit_attempts, m.state.audit_retry_at = 0, None
        return
    m.state.unwritten = [*rows, *m.state.unwritten]
    m.state.audit_attempts += 1
    m.state.audit_retry_at = now + pause_after(m.state.audit_attempts)


def retry_failed(m: Recorder, command: RetryNotices, now: datetime) -> None:
    """Send the failed deliveries again, each as a fresh first try."""
    again = [p.model_copy(update={"attempts": 0, "since": now, "next_at": now}) for p in m.state.failed]
    m.state.pending = [*m.state.pending, *again]
    m.state.failed = []
    detail = {"notices": sorted({p.delivery.notice.id for p in again})}
    m.decided("notices_retried", None, command, now, None, detail)


def _key(delivery: Delivery) -> tuple[str, str]:
    return delivery.notice.id, delivery.channel.kind
