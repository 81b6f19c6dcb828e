"""An audit id is predictable (``<transition>/<first run>/<n>``), so someone who can write the
audit table could put a row there first. A row already under an entry's id stands in for the
entry only if it says the same (a retried flush); any other row fails the write loudly, and the
flush anchors nothing (issue 25)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from infra.audit import AuditCollision, read_chain, sent_before, write_entries
from infra.db import make_engine
from models.deliveries import AuditEntry, Delivery, Notice, sent_entry
from models.plan import LogChannel
from models.signing import new_key_pair
from models.tables import AuditRecord
from tests.stack import LI, Stack, short_plan
from tests.test_audit_tail import append

AT = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def entry(seq: int, kind: str = "paused", **detail: object) -> AuditEntry:
    return AuditEntry(
        id=f"t1/run/{seq}", transition_id="t1", kind=kind, phase="planning", actor="li", at=AT, detail=detail
    )


def append_by_hand(engine: Engine, tid: str, event_id: str, kind: str, detail: dict) -> None:
    """What a database administrator can do: a row chained at the tail under ``event_id``."""
    append(str(engine.url), tid, kind, event_id=event_id, detail=detail)


def test_a_row_of_other_content_under_an_entrys_id_fails_the_write_and_writes_nothing(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with Session(engine) as session:
        write_entries([entry(1, "transition_started")], session=session)
    append_by_hand(engine, "t1", "t1/run/2", "notification_sent", {"notice": "t1/run/2", "channel": "log"})
    with Session(engine) as session, pytest.raises(AuditCollision) as refused:
        write_entries([entry(2, reason="vendor breach"), entry(3, "resumed")], session=session)
    assert "'t1/run/2' (row 2, notification_sent)" in str(refused.value)
    assert "written by something other than the transition" in str(refused.value)
    with Session(engine) as session:
        assert [r.kind for r in read_chain("t1", session=session)] == ["transition_started", "notification_sent"]


def test_a_row_put_under_an_entrys_event_id_with_another_row_id_or_transition_collides(tmp_path: Path):
    # The event id is the unique column: a row under it with a random row id, in a scratch
    # transition, would otherwise make the write fail as "database away" and the trail stop quietly.
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with Session(engine) as session:
        write_entries([entry(1, "transition_started")], session=session)
        session.add(AuditRecord(id=uuid.uuid4(), event_id="t1/run/2", transition_id="scratch", kind="noted",
                                phase="planning", at=AT, position=1, prev_hash="0" * 64, hash="1" * 64))  # fmt: skip
        session.commit()
    with Session(engine) as session, pytest.raises(AuditCollision):
        write_entries([entry(2, reason="vendor breach")], session=session)
    assert [r.event_id for r in read_chain("t1", session=Session(engine))] == ["t1/run/1"]


def test_a_retried_write_of_the_same_entries_writes_nothing_twice(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    batch = [entry(1, "transition_started"), entry(2, reason="vendor breach")]
    with Session(engine) as session:
        assert write_entries(batch, session=session) == 2
        assert write_entries([*batch, entry(3, "resumed")], session=session) == 1
        assert [r.position for r in read_chain("t1", session=session)] == [1, 2, 3]


def test_a_workflow_task_run_again_writes_nothing_twice_but_a_row_dated_after_the_entry_collides(tmp_path: Path):
    """A worker that dies between a flush and Temporal recording its task runs the task again:
    its entries carry the later task's time. A row dated after the entry is no earlier try."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with Session(engine) as session:
        write_entries([entry(1, "transition_started"), entry(2, reason="vendor breach")], session=session)
        again = entry(2, reason="vendor breach").model_copy(update={"at": AT + timedelta(seconds=30)})
        assert write_entries([again, entry(3, "resumed")], session=session) == 1
        earlier = entry(4, "resumed").model_copy(update={"at": AT - timedelta(seconds=1)})
        write_entries([entry(4, "resumed")], session=session)
        with pytest.raises(AuditCollision):
            write_entries([earlier], session=session)


def test_a_sent_row_of_other_content_under_a_deliverys_id_is_not_taken_as_sent(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    notice = Notice(id="t1/run/2", transition_id="t1", kind="reminder", subject="Sign the SLAs", text="…", at=AT)
    delivery = Delivery(notice=notice, channel=LogChannel(kind="log"))
    with Session(engine) as session:
        write_entries([entry(1, "transition_started")], session=session)
    append_by_hand(engine, "t1", "t1/run/2/log", "notification_sent", {"notice": "t1/run/2", "channel": "log"})
    assert sent_before(engine, [delivery]) == set()
    # An earlier try's own row (sent at another moment) is taken as sent.
    other = make_engine(f"sqlite:///{tmp_path}/other.db")
    with Session(other) as session:
        write_entries([entry(1, "transition_started"), sent_entry(delivery, {})], session=session)
    assert sent_before(other, [delivery]) == {"t1/run/2/log"}


def forge_next(url: str, tid: str) -> str:
    """A harmless-looking row under the next event id the workflow will write."""
    engine = make_engine(url)
    with Session(engine) as session:
        rows = read_chain(tid, session=session)
    pattern = rf"{re.escape(tid)}/([^/]+)/(\d+)(?:/.*)?"
    seqs = [(m.group(1), int(m.group(2))) for r in rows if (m := re.fullmatch(pattern, r.event_id))]
    event_id = f"{tid}/{seqs[-1][0]}/{max(s for _, s in seqs) + 1}"
    append_by_hand(
        engine, tid, event_id, "notification_sent", {"notice": event_id, "channel": "log", "about": "reminder"}
    )
    return event_id


@pytest.mark.e2e
def test_a_row_forged_under_the_next_event_id_stalls_the_trail_loudly_and_fails_verify(tmp_path: Path):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "swallow").strip()
        last = -1
        while (n := len(json.loads(s.ok("audit", tid, "--json")))) != last:  # every notice sent
            last = n
            time.sleep(4)
        forged = forge_next(f"sqlite:///{tmp_path / 'audit.db'}", tid)
        s.ok("pause", tid, "--by", LI, "--reason", "vendor breach")
        assert s.status(tid)["state"] == "paused"
        time.sleep(3)
        verified = s.bpo("audit", tid, "--verify")
        assert verified.returncode == 1, (verified.stdout, verified.stderr)
        assert forged in verified.stderr and "written by something other than the transition" in verified.stderr
        assert "audit_collision" in (tmp_path / "worker.log").read_text()
    finally:
        s.stop()
