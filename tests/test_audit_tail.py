"""Rows after the last chain head a transition recorded in Temporal: after an ended transition's
they are not its own (exit 1); after a running one's, `--verify` waits for a head the transition
records to cover them (never the rows' own times, nor a history that grows), else they could not
be checked (exit 3), never a silent pass (issue 25). A run of another workflow
type started under an ended transition's id does not make it running."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session
from temporalio.client import Client

from bpo.anchors import Recorded
from bpo.commands.common import Exit
from bpo.commands.verifying import read_covered, verify_trail
from infra.audit import read_chain, write_entries
from infra.chain import row_hash
from infra.db import make_engine
from models.deliveries import AuditEntry, ChainHead
from models.signing import new_key_pair
from models.tables import AuditHead, AuditRecord, audit_uuid
from tests.stack import DANA, LI, Stack, short_plan

AT = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def append(
    url: str, tid: str, kind: str, at: datetime | None = None, event_id: str | None = None, **fields: object
) -> None:
    """A row chained at the tail by hand (under ``event_id`` if given), the head moved to it: what a
    database administrator can do."""
    event_id = event_id or f"{tid}/forged/{uuid.uuid4().hex[:6]}"
    with Session(make_engine(url)) as session:
        last = read_chain(tid, session=session)[-1]
        row = AuditRecord(id=audit_uuid(event_id), event_id=event_id, transition_id=tid,
                          kind=kind, phase=last.phase, at=at or datetime.now(UTC), position=(last.position or 0) + 1,
                          prev_hash=last.hash, **fields)  # fmt: skip
        row.hash = row_hash(row)
        head = session.get(AuditHead, tid)
        assert head is not None
        head.position, head.hash = row.position, row.hash
        session.add_all([row, head])
        session.commit()


def trail(tmp_path: Path, rows: int) -> tuple[str, ChainHead]:
    """A transition's trail of ``rows`` rows, and its head as the transition recorded it."""
    url = f"sqlite:///{tmp_path}/audit.db"
    entries = [AuditEntry(id=f"t1/run/{n}", transition_id="t1", kind="transition_started" if n == 1 else "phase_started",
                          phase="planning", at=AT) for n in range(1, rows + 1)]  # fmt: skip
    with Session(make_engine(url)) as session:
        write_entries(entries, session=session)
        last = read_chain("t1", session=session)[-1]
    return url, ChainHead(position=last.position or 0, hash=last.hash or "")


def rows_of(url: str) -> list[AuditRecord]:
    with Session(make_engine(url)) as session:
        return read_chain("t1", session=session)


def test_a_running_transitions_rows_after_its_last_head_are_unchecked_when_no_flush_is_under_way(tmp_path: Path):
    url, head = trail(tmp_path, 3)
    append(url, "t1", "gate_passed", at=datetime.now(UTC) - timedelta(minutes=5), gate="slas_signed")
    with pytest.raises(Exit) as unchecked:
        verify_trail("t1", rows_of(url), Recorded(heads=[head]))
    assert unchecked.value.code == 3 and "rows 4-4 (gate_passed) were written after the last head" in str(
        unchecked.value
    )


def test_rows_dated_moments_ago_by_hand_are_unchecked_when_no_head_covers_them(tmp_path: Path):
    """The grace is the history's, not the rows': whoever writes the table re-dates forged tail
    rows every minute to keep them "moments ago" (branch ``reattack25``)."""
    url, head = trail(tmp_path, 3)
    append(url, "t1", "gate_passed", at=datetime.now(UTC) - timedelta(seconds=2), gate="slas_signed")
    with pytest.raises(Exit) as unchecked:
        verify_trail("t1", rows_of(url), Recorded(heads=[head]))
    assert unchecked.value.code == 3 and "no head it recorded covered them" in str(unchecked.value)


def test_verify_waits_for_the_head_of_a_flush_under_way_and_holds_the_rows_to_it(tmp_path: Path, capsys):
    """A flush has written row 4 but not yet recorded its head: `--verify` reads again until it
    has, and then holds row 4 to that head (the row's own time says nothing)."""
    url, head = trail(tmp_path, 3)
    append(url, "t1", "phase_started", at=datetime.now(UTC) - timedelta(days=365))
    flushed = ChainHead(position=4, hash=rows_of(url)[-1].hash or "")
    answers = iter([Recorded(heads=[head]), Recorded(heads=[head]), Recorded(heads=[head, flushed])])

    async def heads() -> Recorded:
        return next(answers)

    record, rows = asyncio.run(read_covered(heads, lambda: rows_of(url), timedelta(seconds=30)))
    verify_trail("t1", rows, record)
    assert "it matches the chain head the transition recorded in Temporal (row 4)" in capsys.readouterr().out


def test_a_history_that_grows_without_a_head_over_the_tail_leaves_it_unchecked(tmp_path: Path):
    """Whoever reaches Temporal's port can grow any history (a signal that writes nothing):
    only a head the transition recorded vouches for a row."""
    url, head = trail(tmp_path, 3)
    append(url, "t1", "gate_passed", gate="slas_signed")
    reads = 0

    async def heads() -> Recorded:
        nonlocal reads
        reads += 1
        return Recorded(heads=[head])

    record, rows = asyncio.run(read_covered(heads, lambda: rows_of(url), timedelta(seconds=0.6)))
    with pytest.raises(Exit) as unchecked:
        verify_trail("t1", rows, record)
    assert reads > 1 and unchecked.value.code == 3
    assert "no head it recorded covered them in the 10 seconds --verify waited" in str(unchecked.value)


def test_a_last_flush_that_could_not_write_leaves_the_trail_unchecked_not_verified(tmp_path: Path):
    url, head = trail(tmp_path, 3)
    away = "the audit database could not be written (IntegrityError)"
    with pytest.raises(Exit) as unchecked:
        verify_trail("t1", rows_of(url), Recorded(heads=[head], deferred=away))
    assert unchecked.value.code == 3 and "last flush could not write its rows" in str(unchecked.value)


@contextlib.contextmanager
def ended(tmp_path: Path, tid: str) -> Iterator[Stack]:
    """A signed transition on the real dev server and worker, cancelled, its trail verified."""
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        s.ok("start", str(short_plan(tmp_path)), "--id", tid)
        s.ok("cancel", tid, "--by", DANA, "--reason", "over")
        s.wait_for(tid, lambda st: st["state"] == "cancelled")
        before = s.bpo("audit", tid, "--verify")
        assert before.returncode == 0, before.stdout + before.stderr  # its last flush's head is recorded
        yield s
    finally:
        s.stop()


def forge_two_rows(tmp_path: Path, tid: str) -> None:
    """A gate passed and a feed's reading, chained by hand after the transition's last row."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    append(url, tid, "gate_passed", gate="slas_signed", detail={"note": "forged"})
    append(url, tid, "kpi_reading", actor=LI, via="feed", detail={"period": "2026-W49", "values": {"csat": 99}})


@pytest.mark.e2e
def test_rows_appended_after_an_ended_transitions_last_head_fail_verify(tmp_path: Path):
    with ended(tmp_path, "tail") as s:
        forge_two_rows(tmp_path, "tail")
        after = s.bpo("audit", "tail", "--verify")
        assert after.returncode == 1, after.stdout + after.stderr
        assert "rows 10-11 (gate_passed, kpi_reading) were written after the transition completed" in after.stderr


async def start_decoy(address: str, tid: str) -> str:
    """What someone who reaches Temporal's port can do once a transition has ended: start a run of
    another workflow type under its id (Temporal's default id-reuse policy allows it)."""
    client = await Client.connect(address)
    handle = await client.start_workflow("Decoy", id=tid, task_queue="nowhere")
    return handle.result_run_id or ""


@pytest.mark.e2e
def test_a_run_of_another_type_under_an_ended_transitions_id_is_named_and_does_not_reopen_it(tmp_path: Path):
    with ended(tmp_path, "decoyed") as s:
        decoy = asyncio.run(start_decoy(s.env["TEMPORAL_ADDRESS"], "decoyed"))
        forge_two_rows(tmp_path, "decoyed")
        after = s.bpo("audit", "decoyed", "--verify")
        assert after.returncode == 1, after.stdout + after.stderr
        assert "rows 10-11 (gate_passed, kpi_reading) were written after the transition completed" in after.stderr
        assert f"run {decoy} under this id is a 'Decoy' workflow, not this transition" in after.stdout


@pytest.mark.e2e
def test_rows_dated_moments_ago_on_a_running_transition_no_head_covers_are_unchecked(tmp_path: Path):
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "redated").strip()
        s.verified(tid)  # its first flushes settle
        append(f"sqlite:///{tmp_path / 'audit.db'}", tid, "gate_passed", gate="slas_signed")  # dated now
        after = s.bpo("audit", tid, "--verify")
        assert after.returncode == 3, after.stdout + after.stderr
        assert "no head it recorded covered them" in after.stderr
    finally:
        s.stop()
