"""The durable outbox in the rules: tries again with growing pauses, gives up after the worker's
limit, keeps what failed for a retry by hand, and audits a sent notice the database missed."""

from __future__ import annotations

from datetime import timedelta

from models.commands import Pause, RetryNotices
from models.deliveries import Delivery, DeliveryOutcome
from models.plan import LogChannel
from tests.rules.sim import DANA, EVE, LI, Run
from workflows.rules import deliveries

DAY = timedelta(days=1)


def tried(run: Run, status: str, error: str | None = "HTTP 503", give_up: timedelta = DAY) -> list[Delivery]:
    """Take what is due now (or the first notice, the first time), and settle it with ``status``."""
    m = run.machine
    out = deliveries.take_due(m, run.now) or [Delivery(notice=run.notices[0], channel=LogChannel(kind="log"))]
    deliveries.settle(m, out, [DeliveryOutcome(status=status, error=error) for _ in out], run.now, give_up)
    run._collect()
    return out


def test_a_delivery_that_fails_waits_with_growing_pauses_and_wakes_the_workflow():
    run = Run()
    tried(run, "retry")
    (waiting,) = run.machine.state.pending
    assert waiting.attempts == 1 and waiting.next_at == run.now + timedelta(seconds=5)
    assert run.machine.next_wakeup(run.now) == waiting.next_at, "the timer wakes for the retry"
    run.now = waiting.next_at
    tried(run, "retry")
    assert run.machine.state.pending[0].next_at - run.now == timedelta(seconds=10)
    assert deliveries.pause_after(30) == timedelta(minutes=15), "the pauses stop growing at 15 minutes"
    assert run.status().notices_pending == 1 and not run.sent_failures()


def test_a_delivery_failing_past_the_give_up_time_is_audited_and_kept_until_retried_by_hand():
    run = Run()
    tried(run, "retry")
    while run.machine.state.pending:
        run.now = run.machine.state.pending[0].next_at
        tried(run, "retry", give_up=timedelta(hours=1))
    (failed,) = run.machine.state.failed
    assert "given up after" in (failed.error or "") and run.now - failed.since <= timedelta(hours=1)
    (row,) = run.sent_failures()
    assert row.detail["notice"] == failed.delivery.notice.id and row.detail["channel"] == "log"
    run.refused(RetryNotices(by=EVE), "NotAllowed")
    run.do(RetryNotices(by=LI))
    assert not run.machine.state.failed and run.machine.state.pending[0].attempts == 0
    assert [a.kind for a in run.audit][-1] == "notices_retried"
    run.refused(RetryNotices(by=LI), "NothingFailed")


def test_a_channel_refusing_for_good_fails_at_once_and_a_sent_notice_the_database_missed_is_audited():
    run = Run()
    tried(run, "failed", "the webhook refused the notification: HTTP 404")
    assert not run.machine.state.pending and len(run.machine.state.failed) == 1
    notice = run.notices[1]
    entry = run.audit[0].model_copy(update={"id": f"{notice.id}/log", "kind": "notification_sent"})
    m = run.machine
    delivery = Delivery(notice=notice, channel=LogChannel(kind="log"))
    deliveries.settle(m, [delivery], [DeliveryOutcome(status="sent", entry=entry)], run.now, DAY)
    assert m.outbox.audit[-1].id == f"{notice.id}/log", "the workflow writes the row with its next flush"


def test_retries_go_on_while_paused_and_audit_rows_the_database_refused_wait_for_their_own_try():
    run = Run()
    run.do(Pause(by=DANA, reason="steering committee"))
    tried(run, "retry")
    assert run.machine.next_wakeup(run.now) == run.machine.state.pending[0].next_at
    run.machine.outbox.audit.append(run.audit[0])
    rows = deliveries.take_rows(run.machine)
    deliveries.rows_kept(run.machine, rows, "the audit database could not be written", run.now)
    assert run.machine.state.unwritten == rows and run.machine.state.audit_retry_at == run.now + timedelta(seconds=5)
    assert not deliveries.waiting(run.machine, run.now)
    assert deliveries.waiting(run.machine, run.now + timedelta(seconds=5))
    assert deliveries.take_rows(run.machine)[: len(rows)] == rows, "kept rows go first, before any new one"
