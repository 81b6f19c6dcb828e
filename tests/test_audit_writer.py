"""The outbox's audit written in a process of its own beside the worker (the worker's default,
`activities.audit_writer`): the same rows, chain and head as in the worker's threads, a collision
found there still fails the flush loudly, and a writing process that dies loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.audit_writer import AuditWriter, _pools
from activities.outbox import OutboxActivities
from infra.audit import COLLISION, read_chain
from infra.chain import verify_chain
from infra.db import make_engine
from models.deliveries import AuditEntry, Flush, Flushed
from models.tables import AuditRecord
from tests.test_audit_collisions import append_by_hand, entry
from tests.test_flush_marks import NONCE, Counting, escalation

ROOT = Path(__file__).resolve().parent.parent


def outbox(engine: Engine) -> OutboxActivities:
    notify = Counting(engine, httpx.AsyncClient())
    return OutboxActivities(notify, timedelta(hours=1), writer=AuditWriter(engine, processes=1))


async def flush(box: OutboxActivities, *entries: AuditEntry, nonce: str = NONCE, deliveries=()) -> Flushed:
    return await ActivityEnvironment().run(
        box.flush, Flush(audit=list(entries), deliveries=list(deliveries), nonce=nonce)
    )


def rows(engine: Engine) -> list[AuditRecord]:
    with Session(engine) as session:
        return list(session.exec(select(AuditRecord).where(AuditRecord.transition_id == "t1")).all())


async def test_a_flush_written_in_its_own_process_is_chained_anchored_and_written_once(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    box = outbox(engine)
    answer = await flush(box, entry(1, "transition_started"), entry(2), deliveries=[escalation()])
    assert answer.audit_error is None and answer.outcomes[0].status == "sent"
    assert answer.audit_head is not None and answer.audit_head.position == 3, "two entries and the sent row"
    with Session(engine) as session:
        assert verify_chain(read_chain("t1", session=session)).problem is None
    # The same flush tried again (its worker died before answering): nothing twice, the same head,
    # the notice not sent again.
    again = await flush(box, entry(1, "transition_started"), entry(2), deliveries=[escalation()])
    assert again.audit_head is not None and again.audit_head.hash == answer.audit_head.hash
    assert (len(rows(engine)), box.notify.sends) == (3, 1)


async def test_a_collision_found_in_the_writing_process_fails_the_flush_loudly(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    box = outbox(engine)
    await flush(box, entry(1, "transition_started"))
    append_by_hand(engine, "t1", "t1/run/2", "approved", {"gate": "contract_signed"})
    answer = await flush(box, entry(2), nonce="another flush")
    assert answer.audit_error is not None and answer.audit_error.startswith(COLLISION), answer.audit_error
    assert answer.audit_head is None, "a head over a row the transition did not write is not anchored"


async def test_a_writing_process_that_dies_leaves_the_entries_to_the_next_flush(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    box = outbox(engine)
    await flush(box, entry(1, "transition_started"))
    for pool in list(_pools.values()):
        for process in list(pool._processes.values()):  # type: ignore[attr-defined]
            os.kill(process.pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):  # a write it was given as it died: the flush says so
        await box.writer.write([entry(2)])
    assert len(rows(engine)) == 1
    # The workflow keeps the entries and flushes them again: a new writing process takes them.
    kept = await flush(box, entry(2), nonce="third")
    assert kept.audit_error is None and kept.audit_head is not None and kept.audit_head.position == 2


def test_a_worker_killed_outright_leaves_no_writing_process_behind(tmp_path: Path):
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, sys, time\n"
        "from activities.audit_writer import _pool\n"
        "if __name__ == '__main__':\n"
        "    print(_pool(1, ('json', 'info')).submit(os.getpid).result(), flush=True)\n"
        "    time.sleep(60)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert worker.stdout is not None
    writer = int(worker.stdout.readline())
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{writer}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{writer}").exists(), "the writing process outlived its worker"


@pytest.mark.parametrize(
    "first",
    [
        "",
        # `bpo-worker` (the console script) and `python worker.py` start from `worker.py`: the
        # spawned writer imports the main module first, and what it imports at its top (attack 34)
        "from worker import main",
    ],
    ids=["bpo-worker-as-starter", "bpo-worker-as-console-script"],
)
def test_the_writing_process_loads_only_what_writing_needs(tmp_path: Path, first: str):
    # The writer runs beside every worker: Temporal, Alembic (the worker migrated the schema) and
    # the notification channels' clients would be some 40 MB of its memory and do nothing there.
    script = tmp_path / "start.py"  # not worker.py: that would be the module the case imports
    script.write_text(
        f"{first}\n"
        "from activities.audit_writer import AuditWriter, _pool\n"
        "from infra.db import make_engine\n"
        "if __name__ == '__main__':\n"
        f"    writer = AuditWriter(make_engine('sqlite:///{tmp_path}/audit.db'), 1)\n"
        "    writer.warm()\n"
        "    loaded = \"sorted({m.split('.')[0] for m in __import__('sys').modules})\"\n"
        "    print(' '.join(_pool(1, writer.logs).submit(eval, loaded).result()))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
    )  # fmt: skip
    loaded = set(done.stdout.split())
    assert {"sqlalchemy", "infra", "models"} <= loaded
    assert not loaded & {"temporalio", "alembic", "httpx", "icalendar"}, sorted(loaded)
