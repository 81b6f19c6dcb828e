"""Attack on the reader's ``audit_written`` update and the Core audit writer (branch ``attack37``,
the change 4be5545..80871fc): what a reader of the trail (a page, ``bpo audit``), whoever reaches
Temporal's frontend, or whoever can write the audit database can do to a transition.

Found: someone who holds the audit database's write lock stalls the flush that follows a decision
for minutes (it holds the run's workflow task), and each page read meanwhile sent an update that
was accepted and stayed in flight until that flush ended. Temporal lets a run hold ten updates in
flight: after ten page views an approver's decision, itself an update, was refused ("limit on
number of concurrent in-flight updates has been reached (10)"). semantics.md: the audit database
away, decisions are still accepted. Now one reader at most waits in the run: the others are
refused, leaving no event and holding no place, and watch the query.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta

from bpo.api import audit_settled, send
from models.commands import Note
from models.constants import AUDIT_WRITTEN_UPDATE
from tests.conftest import running_worker
from tests.stack import LI
from tests.test_audit_linger import _notes, _started, _update_name


async def test_readers_of_a_flush_stuck_on_a_locked_database_wait_one_at_a_time(dev, settings, reference_plan):
    # An open `BEGIN IMMEDIATE` in a sqlite3 shell (on PostgreSQL, a row lock on audit_head): the
    # flush after a note waits on it. Three page views meanwhile, each waiting its 2 s (and the
    # query that follows, which waits for the workflow task the flush holds).
    async with running_worker(dev, settings):
        tid = await _started(dev, settings, reference_plan, timedelta(seconds=60))
        lock = sqlite3.connect(str(settings.data_dir / "audit.db"), isolation_level=None, timeout=30)
        lock.execute("BEGIN IMMEDIATE")  # the audit database's writers wait
        try:
            await send(dev.client, tid, Note(text="before the lock", by=LI, request_id="n0"))
            await asyncio.sleep(1)
            for _ in range(3):
                await audit_settled(dev.client, tid, 2.0)
        finally:
            lock.rollback()
            lock.close()
        assert await audit_settled(dev.client, tid, 60) == 0
        events = list((await dev.client.get_workflow_handle(tid).fetch_history()).events)
    assert _notes(settings, tid) == ["before the lock"]
    readers = [e for e in events if _update_name(e) == AUDIT_WRITTEN_UPDATE]
    # The first view's update waited for the flush it hurried; the next two were refused (no event).
    assert len(readers) <= 2, f"{len(readers)} readers' updates were let in to wait on one stuck flush"
