"""Carrying out the machine's outbox: audit entries and notices, inside the workflow.

`Flusher` is today's way: each turn, one local activity writes the audit entries and makes every
delivery; what fails waits in the carried state for another try, so a continue-as-new or the end
of the transition drops nothing. After a decision it may hold the flush a moment (the start's
``flush_after``): a local activity holds its workflow task open until it returns, so a flush at
once would hold the decision's answer too; held, the answer goes at once, and decisions that
arrive meanwhile go out in the same flush. Audit entries with no notice among them may wait
longer (the start's ``audit_linger``), so that a burst of readings or ticks makes one flush: a
notice, a reader of the trail (`settle`) or the run's end cuts the wait short.

`Sender` is the way transitions started before it ran (an audit activity per turn, a delivery
activity per notice and channel), kept so that they replay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

# Activities are called by their registered names (as the feeder does), so the workflow imports no
# activity code and no infrastructure: the floors tests/test_layers.py holds.
with workflow.unsafe.imports_passed_through():
    from models.deliveries import AuditBatch, Delivery, Flush, Flushed
    from workflows.rules import Machine, deliveries
    from workflows.rules.versions import (
        AUDIT_LINGERS,
        DRAIN_IN_FLIGHT,
        FAILED_DELIVERIES_AUDITED,
        FLUSH_BATCHED,
        FLUSH_HURRIED,
        FLUSH_MARKED,
        FLUSH_YIELDS,
    )

AUDIT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Before the flush: a notification that could not be delivered in eight attempts (about four
# minutes of backoff) was given up, and audited as such.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=8,
    non_retryable_error_types=["BadChannel"],
)
# The flush fails only on a bug (or a worker lost mid-flight); outcomes carry every other failure.
FLUSH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
FLUSH_TIMEOUT = timedelta(minutes=2)


class _Carrier:
    def __init__(self, machine: Machine, changed: Callable[[str], bool]) -> None:
        self.machine = machine
        self.changed = changed
        meter = workflow.metric_meter()
        self.alerts = {
            kind: meter.create_counter(name, f"{kind} events, by phase")
            for kind, name in (("escalation", "bpo_escalations"), ("sla_breach", "bpo_sla_breaches"))
        }
        self.failures = meter.create_counter("bpo_notifications_failed", "Notifications given up, by channel")
        self.turns = 0
        """Flushes settled: each may move the next retry, which the workflow's timer must follow."""

    def count(self, entries: list[Any]) -> None:
        for entry in entries:
            if entry.kind in self.alerts:
                self.alerts[entry.kind].add(1, {"phase": entry.phase})
            if entry.kind == "notification_failed":
                self.failures.add(1, {"channel": str(entry.detail.get("channel", ""))})


class Flusher(_Carrier):
    """One flush per turn; retries and failures kept in the machine's state."""

    def __init__(
        self,
        machine: Machine,
        changed: Callable[[str], bool],
        answers: Callable[[], int],
        hold: timedelta | None,
        answering: Callable[[], bool],
    ) -> None:
        super().__init__(machine, changed)
        self.answers = answers
        """How many updates the workflow has answered: one since the last flush holds the next."""
        self.answering = answering
        """Whether an update was answered in the workflow task under way."""
        self.hold = hold
        """How long a held flush waits (the start's ``flush_after``); none: never held."""
        self.linger: timedelta | None = None
        """How long audit entries alone wait, from the decision that made the first (`linger_for`)."""
        self.stale: Callable[[], bool] = lambda: False
        """Whether the search attributes would change: they wait with the flush, so it may not linger."""
        self.hurried = self.draining = False
        """Someone reads the trail (until the next flush), or the run ends: what waits goes now."""
        self.answered = 0
        self.flushing = False
        self.holding = False
        """A flush waits for decisions to join it; the search attributes wait with it."""
        self.in_flight = 0

    async def run(self) -> None:
        """Flush whenever there is something to write or send, or a retry falls due."""
        while True:
            await workflow.wait_condition(lambda: deliveries.waiting(self.machine, workflow.now()))
            if self.hold and self.answers() != self.answered and self.changed(FLUSH_BATCHED):
                # Let the answered update's workflow task complete, and others join the flush.
                self.holding = True
                if self.linger and not self._urgent() and self.changed(AUDIT_LINGERS):
                    # Entries alone: one timer for the whole wait, unless something hurries it.
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(self._urgent, timeout=self.linger)
                elif self.changed(FLUSH_HURRIED):  # a reader of the trail need not wait for it
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(lambda: self.hurried, timeout=self.hold)
                else:
                    await workflow.sleep(self.hold)
                # A decision that came as the wait ended shares its workflow task, whose answer
                # would wait for the flush's local activity: once more, so it is answered now.
                if self.answering() and self.changed(FLUSH_YIELDS):
                    await workflow.sleep(self.hold)
                self.holding = False
            self.answered, self.hurried = self.answers(), False
            await self.flush()

    def linger_for(self, linger: timedelta | None, stale: Callable[[], bool]) -> None:
        """Let audit entries alone wait up to ``linger`` (the start's ``audit_linger``) unless
        ``stale``: the search attributes would change. What hurries them ends the wait; a
        decision that does is answered first (the flush then waits the hold)."""
        if linger and self.hold and linger > self.hold:
            self.linger, self.stale = linger, stale

    def _urgent(self) -> bool:
        """A notice waits to be sent or a delivery to be tried again, the search attributes are
        behind, or someone waits for the trail."""
        m = self.machine
        return self.hurried or self.draining or bool(m.outbox.notices or deliveries.due(m, workflow.now())) or self.stale()

    async def before_cancel(self) -> None:
        """A cancel request ends the run where it waits: what lingers, perhaps for seconds, is
        written first (a run without a linger ends as it always did)."""
        if self.linger and self.changed(AUDIT_LINGERS):
            self.draining = True
            await workflow.wait_condition(lambda: self.quiet() and not self.holding)

    def settle(self) -> None:
        """Write what waits now: someone reads the trail (a lingering flush goes at once)."""
        self.hurried = True

    def unwritten(self) -> int:
        """Audit entries accepted but not yet in the audit table."""
        return len(self.machine.outbox.audit) + len(self.machine.state.unwritten) + self.in_flight

    async def flush(self) -> None:
        """One turn: the audit entries, the new deliveries and the retries due, in one activity."""
        m, now = self.machine, workflow.now()
        self.flushing = True
        try:
            notices, m.outbox.notices = m.outbox.notices, []
            plan = self.machine.plan
            fresh = [Delivery(notice=n, channel=c, client=plan.client) for n in notices for c in plan.notifications]
            again = deliveries.take_due(m, now)
            rows = deliveries.take_rows(m)
            self.count(rows)
            out = [*fresh, *again]
            self.in_flight = len(rows)
            # Made here, never stored: a row under one of the flush's ids is its own earlier try
            # only if it carries this value's mark. uuid4 replays the same, so a workflow task
            # run again marks its rows as its first try did.
            nonce = str(workflow.uuid4()) if self.changed(FLUSH_MARKED) else None
            flushed = await workflow.execute_local_activity(
                "flush_outbox",
                Flush(audit=rows, deliveries=out, nonce=nonce),
                result_type=Flushed,
                start_to_close_timeout=FLUSH_TIMEOUT,
                retry_policy=FLUSH_RETRY,
            )
            now = workflow.now()
            deliveries.rows_kept(m, rows, flushed.audit_error, now)
            if flushed.audit_head is not None:  # the anchor, carried and shown in status
                m.state.audit_head = flushed.audit_head
            give_up = timedelta(seconds=flushed.give_up_seconds)
            deliveries.settle(m, out, flushed.outcomes, now, give_up)
        finally:
            self.flushing, self.in_flight = False, 0
            self.turns += 1

    def quiet(self) -> bool:
        """Nothing written or sent is in flight or due now (retries may wait for later)."""
        return not self.flushing and not deliveries.waiting(self.machine, workflow.now())

    async def drain(self, ending: bool, over_budget: Callable[[], bool]) -> bool:
        """Wait until every handler has finished and the outbox is flushed. A continue-as-new
        carries what waits for a retry; the end of the transition waits for it to go out or be
        given up, unless the run's history reaches its budget first (then True: continue as new
        and wait there)."""
        self.draining = True
        while True:
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self.quiet())
            retry = deliveries.next_retry(self.machine)
            if not ending or retry is None:
                return False
            if over_budget():
                return True
            await workflow.sleep(max(retry - workflow.now(), timedelta(seconds=1)))


class Sender(_Carrier):
    """The pump of transitions started before the flush: it stops once the outbox is empty."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.deliveries: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.drain_in_flight = False

    async def run(self) -> None:
        """Write audit entries and send notifications as the machine produces them."""
        while True:
            await workflow.wait_condition(self._woken)
            outbox = self.machine.take_outbox()
            if not outbox.audit and not outbox.notices:
                break
            self.count(outbox.audit)
            for notice in outbox.notices:
                for channel in self.machine.plan.notifications:
                    delivery = Delivery(notice=notice, channel=channel, client=self.machine.plan.client)
                    task = asyncio.create_task(self._deliver(delivery))
                    self.deliveries.add(task)
                    task.add_done_callback(self.deliveries.discard)
            if outbox.audit:
                await workflow.execute_local_activity(
                    "record_audit",
                    AuditBatch(entries=outbox.audit),
                    result_type=int,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=AUDIT_RETRY,
                )
        if self.deliveries:
            await asyncio.gather(*self.deliveries)

    def _woken(self) -> bool:
        """Something to write or send; or the run ends and nothing more can come: no delivery in
        flight whose failure the trail would need (runs before that change stopped at once)."""
        if self.machine.outbox.audit or self.machine.outbox.notices:
            return True
        return self.stopping and not (self.drain_in_flight and self.deliveries)

    async def drain(self, pump: asyncio.Task[None]) -> None:
        """Let every handler finish and every audit entry and notification go out."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.drain_in_flight = self.changed(DRAIN_IN_FLIGHT)
        self.stopping = True
        await pump

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await workflow.execute_local_activity(
                "deliver_notification",
                delivery,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=NOTIFY_RETRY,
            )
        except (ActivityError, ApplicationError) as failure:
            # A failure no retry can mend (a refused webhook, no TLS) arrives as the activity's
            # own ApplicationError; before this change it went unheard, and old runs replay so.
            if isinstance(failure, ApplicationError) and not self.changed(FAILED_DELIVERIES_AUDITED):
                raise
            error = str(failure.cause if isinstance(failure, ActivityError) else failure)
            workflow.logger.warning(
                "notification_failed",
                extra={"notice": delivery.notice.id, "channel": delivery.channel.kind, "error": error},
            )
            self.machine.delivery_failed(delivery, error, workflow.now())
