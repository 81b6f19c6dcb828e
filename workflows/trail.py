"""The transition workflow's handlers for readers of its audit trail: how many entries wait to be
written (the ``deliveries`` query), and the two ways to have them written now: the
``settle_audit`` signal (sent and not waited for), and the ``audit_written`` update, which
answers once a flush begun after it has ended, with how many entries still wait (a held or
lingering flush goes at once: `workflows.pump.Flusher.settle`).

`bpo audit`, `bpo report` and the web app's pages read the trail after what waits is written
(`bpo.api.audit_settled`): one update, refused at once (and so kept out of the history) when
nothing waits, where they used to ask the query, send the signal and ask the query again every
tenth of a second until the flush was done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.constants import AUDIT_WRITTEN_UPDATE, NOTHING_WAITS, WRITTEN_LATER
    from models.deliveries import Deliveries
    from workflows.rules import Machine

if TYPE_CHECKING:
    from workflows.pump import Flusher

HISTORY_BUDGET = 340
"""Events after which a run continues as new at its next quiet moment: a turn and the drain add
a few dozen at most, so every run's history stays under 400 events, quick to replay however
long the transition runs."""


class TrailHandlers:
    """The query, signal and update a reader of the trail sends (`bpo.api.audit_settled`)."""

    machine: Machine
    _changes: int
    _flusher: Flusher | None
    _reader_waits = False
    """A reader's update waits for a flush: the others watch the query meanwhile."""

    @workflow.query
    def deliveries(self) -> Deliveries:
        """The notifications waiting for another try, those given up, and how many audit entries
        are not yet in the audit table."""
        s = self.machine.state
        return Deliveries(pending=[*s.trying, *s.pending], failed=s.failed, unwritten=self._unwritten())

    @workflow.signal
    def settle_audit(self) -> None:
        """What waits to be written goes now, for a caller that does not wait (the Web UI's "Send
        Signal"; `bpo audit` and the pages did, before the update)."""
        if self._flusher:
            self._flusher.settle()
        self._budget_kept()

    @workflow.update(name=AUDIT_WRITTEN_UPDATE)
    async def audit_written(self) -> int:
        """Someone waits for the trail: what waits to be written goes now. Answered once a flush
        begun after this arrived has ended (or nothing waits, or nothing can be written before a
        retry falls due: the audit database was away), with how many entries still wait."""
        self._budget_kept()
        flusher = self._flusher
        # The validator let it in, but the state may have moved since; and readers let in by the
        # same workflow task pass it together: only one of them waits.
        if flusher is None or not flusher.unwritten() or self._reader_waits:
            return self._unwritten()
        done = flusher.turns + (2 if flusher.flushing else 1)  # a flush under way may not hold them all
        flusher.settle()
        self._reader_waits = True
        try:
            # Nothing flushing nor due (a held flush waits on what is due): a retry is all that is left.
            await workflow.wait_condition(lambda: not flusher.unwritten() or flusher.turns >= done or flusher.quiet())
        finally:
            self._reader_waits = False
        return flusher.unwritten()

    @audit_written.validator
    def _something_waits(self) -> None:
        """Refused when nothing waits, when what waits can only go at the audit database's next
        try (it was away), or when another reader already waits for the flush: a refused update
        leaves nothing in the history, so a page read over and over adds no event, and holds
        none of the few updates Temporal lets a run have in flight, which decisions need (a flush
        stuck on a locked database once let readers take them all)."""
        if not (left := self._unwritten()):
            raise ApplicationError("nothing waits to be written", type=NOTHING_WAITS, non_retryable=True)
        flusher = self._flusher
        if flusher and flusher.quiet():
            raise ApplicationError(
                f"{left} audit entries wait for the audit database's next try", type=WRITTEN_LATER, non_retryable=True
            )
        if self._reader_waits:
            raise ApplicationError("another reader waits for this flush", type=WRITTEN_LATER, non_retryable=True)

    def _unwritten(self) -> int:
        return self._flusher.unwritten() if self._flusher else len(self.machine.outbox.audit)

    def _budget_kept(self) -> None:
        """Each reader's signal or update is history that no decision follows: past the budget,
        the loop wakes to continue as new, or readers spamming them (a page refreshed while the
        audit database is away) would grow one run without end."""
        if workflow.info().get_current_history_length() >= HISTORY_BUDGET:
            self._changes += 1
