"""The outbox flush: one local activity per workflow turn writes the audit rows the rules
produced, then makes every delivery of their notices, and answers with each delivery's outcome.

One activity per turn keeps a transition's history short (one marker, however many notices and
channels), and the workflow, not the delivery, decides what a failure means: another try later
(the delivery waits in the workflow's carried state), or a failure kept for ``bpo notices``.
A delivery already audited as sent (the same id, from an earlier try of this flush that a
worker crash cut short) is not sent again, if that row says what this delivery's would, and
carries its mark (`infra.audit.flush_mark`, keyed with the workers' secret): a sent row is
predictable from the plan, the mark is not.

A row already in the table under one of the flush's ids with other content (`AuditCollision`:
ids are predictable, and someone who can write the table could put one there first) fails the
flush's audit write loudly: an error in the worker's log naming the id, the reason in the flush's
answer (kept in the workflow's history, read by `bpo audit --verify`), and no chain head anchored.
The workflow keeps its entries and tries them again later, so its trail stalls, saying why,
while its decisions and deliveries go on; the flush is not failed, which would fail the
transition itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit_writer import AuditWriter
from activities.notify import NotifyActivities
from infra.audit import AuditCollision, sent_before
from infra.transport import Skipped
from models.deliveries import ChainHead, Delivery, DeliveryOutcome, Flush, Flushed, delivery_id, sent_entry

PROCESS_KEY = secrets.token_bytes(32)
"""The marks' key of a worker built without one (tests): the same for every flush of the process."""

log = structlog.get_logger(__name__)
PARALLEL = 8
"""Deliveries of one flush made at once."""


class OutboxActivities:
    """Holds the notifier and how long deliveries are tried; ``flush`` is the registered activity."""

    def __init__(
        self,
        notify: NotifyActivities,
        give_up: timedelta,
        mark_key: bytes = PROCESS_KEY,
        writer: AuditWriter | None = None,
    ) -> None:
        self.notify = notify
        self.writer = writer or AuditWriter(notify.engine)
        """Where the flush's audit rows are written: the worker's threads, or a process of their own."""
        self.give_up = give_up
        self.mark_key = mark_key
        """The workers' secret the flushes' marks are keyed with (`Settings.audit_mark_key`)."""

    def _mark(self, batch: Flush) -> str | None:
        """The value a flush marks its rows with (each row's mark is a hash of it and of what the
        row says, `infra.audit.flush_mark`): the transition's id keyed with the workers' secret, which
        neither the audit database nor Temporal ever holds. Not the flush's own value: a workflow
        task run again after a kill lost its completion may flush the same entries in another
        order, with another value (a retry that fell due first drew one), and must still find the
        rows its first try wrote as its own; a row of other content still collides. None for a
        flush from before marks (the workflow made it no value)."""
        tid = _transition_of(batch)
        if not batch.nonce or tid is None:
            return None
        return hmac.new(self.mark_key, f"bpo-row-mark\n{tid}".encode(), hashlib.sha256).hexdigest()

    @activity.defn(name="flush_outbox")
    async def flush(self, batch: Flush) -> Flushed:
        """Write the audit entries, then make each delivery and say how it went. Nothing here
        fails the activity: a database that is away leaves the entries to the workflow, which
        keeps them and writes them with a later flush."""
        audit_error = None
        collided = False  # the entries' write refused for a collision
        collisions: list[str] = []  # why each sent row refused for a collision was refused
        written: list[ChainHead] = []  # each write's place in the chain, read in its own transaction
        mark = self._mark(batch)
        earlier, sent = await self._before(batch, mark)
        if earlier is not None:  # an earlier try of this flush wrote rows: its head is this flush's
            written.append(earlier)
        if batch.audit:
            try:
                written.extend((await self.writer.write(batch.audit, mark))[1])
            except AuditCollision as collision:  # logged as an error where it was found
                audit_error, collided = str(collision), True
            except Exception as error:
                audit_error = f"the audit database could not be written ({type(error).__name__})"
                log.warning("audit_deferred", transition_id=batch.audit[0].transition_id, error=audit_error)
        gate = asyncio.Semaphore(PARALLEL)
        logged: list[DeliveryOutcome] = []

        async def one(delivery: Delivery) -> DeliveryOutcome:
            if delivery_id(delivery) in sent:
                return DeliveryOutcome(status="sent")
            async with gate:
                outcome = await self._deliver(delivery, collisions, mark, written)
            if outcome.entry is not None and delivery.channel.kind == "log":
                logged.append(outcome)
            return outcome

        outcomes = await asyncio.gather(*(one(d) for d in batch.deliveries))
        rows = [o.entry for o in logged if o.entry]
        if rows:  # a log line written twice harms no one: their rows go in one write at the end
            try:
                written.extend((await self.writer.write(rows, mark))[1])
                for outcome in logged:
                    outcome.entry = None
            except AuditCollision as collision:
                collisions.append(str(collision))
            except Exception:  # logged, but not audited: the workflow writes the rows with its next flush
                log.warning("sent_not_audited", transition_id=rows[0].transition_id, rows=len(rows))
        return Flushed(
            outcomes=list(outcomes),
            audit_error=audit_error,  # the entries' write alone: the workflow keeps them for another
            give_up_seconds=self.give_up.total_seconds(),
            # A collision means the table holds a row the transition did not write: the head is
            # not the transition's to anchor as its own. The head the flush's own last write left,
            # never one read after it: a row chained by hand after that write must not be
            # covered. No write, no head. Each write's own place is kept (each covers only the rows
            # its transaction wrote), so rows the flush did write cannot be taken away unseen.
            audit_head=None if collided or collisions or not written else max(written, key=lambda h: h.position),
            writes=written,
            # A sent row's collision is said apart, the history naming it even once the row that
            # stood in the way is gone (the entries were written: nothing for the workflow to keep).
            collisions=collisions,
        )

    async def _before(self, batch: Flush, mark: str | None) -> tuple[ChainHead | None, set[str]]:
        """What an earlier try of this flush left, read in one call to the writer: the head its
        rows left, if it wrote them (`chain_before`), and the deliveries it sent (`sent_before`)."""
        ids = [e.id for e in batch.audit] + [delivery_id(d) for d in batch.deliveries]
        tid = _transition_of(batch)
        if tid is None:
            return None, set()
        try:
            return await self.writer.before(tid, ids, batch.deliveries, mark)
        except Exception:  # the database is away, or the writing process died since its last call
            # (the call that meets its broken pool fails): the sent rows are read here then, as
            # they were before the writer read them, so a notice an earlier try sent is not sent
            # twice; with the database away too, they are sent, as the first try would.
            return None, await asyncio.to_thread(sent_before, self.notify.engine, batch.deliveries, mark)

    async def _deliver(
        self, delivery: Delivery, collisions: list[str], flush: str | None, written: list[ChainHead]
    ) -> DeliveryOutcome:
        """Make one delivery. Its sent row is written at once, before the next can be lost with
        the worker, except a log line's, which comes back in the outcome for the batch. A sent
        row refused for a collision adds why to ``collisions``; the write's place, to ``written``."""
        try:
            sent = await self.notify.send(delivery, activity.info().attempt)
        except Skipped as off:
            return DeliveryOutcome(status="skipped", error=str(off))
        except ApplicationError as failure:
            return DeliveryOutcome(status="failed" if failure.non_retryable else "retry", error=str(failure))
        except Exception as error:  # a bug or the unexpected: tried again, never dropped
            log.exception("delivery_crashed", notice=delivery.notice.id, channel=delivery.channel.kind)
            return DeliveryOutcome(status="retry", error=f"the delivery failed unexpectedly ({type(error).__name__})")
        entry = sent_entry(delivery, sent.refused, sent.held)
        if delivery.channel.kind == "log":
            return DeliveryOutcome(status="sent", entry=entry)
        try:
            written.extend((await self.writer.write([entry], flush))[1])
        except AuditCollision as collision:  # the workflow's next flush meets it again, loudly
            collisions.append(str(collision))
            return DeliveryOutcome(status="sent", entry=entry)
        except Exception:  # sent, but not audited: the workflow writes the row with its next flush
            log.warning("sent_not_audited", notice=delivery.notice.id, channel=delivery.channel.kind)
            return DeliveryOutcome(status="sent", entry=entry)
        return DeliveryOutcome(status="sent")


def _transition_of(batch: Flush) -> str | None:
    """The transition a flush writes and delivers for (a workflow flushes its own outbox)."""
    return next((e.transition_id for e in batch.audit), None) or next(
        (d.notice.transition_id for d in batch.deliveries), None
    )
