"""The audit trail's hash chain on real SQLite and PostgreSQL: intact, then edited by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, create_engine

from infra.audit import read_chain, write_entries
from infra.chain import verify_chain
from infra.db import make_engine
from models.commands import Approve, ReadingsBatch, RecordReadings, TrustKeys
from models.deliveries import AuditEntry
from models.signing import Signer, new_key_pair, signed_fields

AT = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def entry(seq: int, kind: str = "approved", tid: str = "t1", **fields) -> AuditEntry:
    return AuditEntry(
        id=f"{tid}/{seq}", transition_id=tid, kind=kind, phase="planning", gate="g", actor="li", at=AT, **fields
    )


def verdict(engine, tid: str = "t1"):
    with Session(engine) as session:
        return verify_chain(read_chain(tid, session=session))


def test_an_untouched_trail_verifies_and_each_row_links_to_the_one_before(engine):
    with Session(engine) as session:
        write_entries([entry(1, "transition_started"), entry(2)], session=session)
        write_entries([entry(3), entry(2)], session=session)  # a retry writes nothing twice
        rows = read_chain("t1", session=session)
    assert [r.position for r in rows] == [1, 2, 3]
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert (verdict(engine).rows, verdict(engine).problem) == (3, None)


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE audit_record SET actor = 'mallory' WHERE position = 2", "row 2 (approved g) was altered"),
        ("DELETE FROM audit_record WHERE position = 2", "row 2 was removed (the next row is row 3 (approved g))"),
        ("UPDATE audit_record SET at = :later WHERE position = 3", "row 3 (approved g) was altered"),
    ],
)
def test_a_row_edited_or_removed_by_hand_is_named(engine, tamper, problem):
    with Session(engine) as session:
        write_entries([entry(n) for n in (1, 2, 3, 4)], session=session)
    with engine.begin() as connection:
        connection.execute(text(tamper), {"later": AT + timedelta(minutes=1)} if ":later" in tamper else {})
    assert verdict(engine).problem == problem


def test_a_row_inserted_by_hand_is_found_outside_the_chain(engine):
    with Session(engine) as session:
        write_entries([entry(1), entry(2)], session=session)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_record (id, event_id, transition_id, kind, phase, at, recorded_at, detail) "
                "VALUES ('00000000000000000000000000000001', 't1/99', 't1', 'waived', 'planning', :at, :at, '{}')"
            ),
            {"at": AT},
        )
    assert "is outside the chain" in verdict(engine).problem


def test_a_signature_is_checked_against_the_keys_the_first_row_trusts(engine):
    private, public = new_key_pair()
    command = Signer(private).sign("t1", Approve(gate="g", by="li", request_id="r-1", via="cli"), "run-1")
    signed = {"command": "approve", "fields": command.model_dump(mode="json", exclude={"signature"}), "run": "run-1"}
    started = entry(1, "transition_started", detail={"trusted_keys": [public]})
    with Session(engine) as session:
        write_entries([started, entry(2, detail={"signed": signed}, signature=command.signature)], session=session)
    assert (verdict(engine).signed, verdict(engine).problem) == (1, None)
    forged = Signer(new_key_pair()[0]).sign("t1", command, "run-1", command.signed_at).signature
    with Session(engine) as session:
        write_entries([entry(3, detail={"signed": signed}, signature=forged)], session=session)
    assert verdict(engine).problem == "row 3 (approved g) carries a signature that no trusted key made"


def test_an_insider_cannot_repeat_a_signed_row_restart_the_chain_or_rewrite_a_rotations_keys(engine):
    # Rows a database administrator adds with material copied from the trail itself.
    private, public = new_key_pair()
    attacker = new_key_pair()[1]
    command = Signer(private).sign("t1", Approve(gate="g", by="li", request_id="r-1", via="cli"), "run-1")
    signed = {"command": "approve", "fields": signed_fields(command), "run": "run-1"}
    approved = entry(2, detail={"signed": signed}, signature=command.signature)
    with Session(engine) as session:
        write_entries([entry(1, "transition_started", detail={"trusted_keys": [public]}), approved], session=session)
        write_entries([entry(3, detail={"signed": signed}, signature=command.signature)], session=session)
    assert verdict(engine).problem == "row 3 (approved g) repeats the signed request 'r-1' of row 2 (approved g)"
    with Session(engine) as other:
        write_entries([entry(2, tid="t2", detail={"trusted_keys": [public]}, kind="approved")], session=other)
        write_entries([entry(3, "transition_started", tid="t2", detail={"trusted_keys": [attacker]})], session=other)
    assert verdict(engine, "t2").problem == "row 2 (transition_started g) starts the transition again in the middle"

    rotate = Signer(private).sign("t3", TrustKeys(add=[attacker], by="li", request_id="k-1"), "run-1")
    told = {"command": "trust_keys", "fields": signed_fields(rotate), "run": "run-1"}
    rotated = entry(2, "keys_rotated", tid="t3", signature=rotate.signature, detail={"signed": told, "trusted_keys": [attacker]})
    later = Signer(private).sign("t3", Approve(gate="g", by="li", request_id="r-2", via="cli"), "run-1")
    with Session(engine) as session:
        write_entries([entry(1, "transition_started", tid="t3", detail={"trusted_keys": [public]}), rotated], session=session)
        kept = {"command": "approve", "fields": signed_fields(later), "run": "run-1"}
        write_entries([entry(3, tid="t3", detail={"signed": kept}, signature=later.signature)], session=session)
    assert verdict(engine, "t3").problem is None, "the rotation added a key; the row's own list, dropping the first, counts for nothing"


def test_writers_racing_on_one_transition_keep_one_unbroken_chain(engine):
    def write(worker: int) -> None:
        for n in range(25):
            with Session(engine) as session:
                write_entries([entry(worker * 100 + n)], session=session)

    threads = [threading.Thread(target=write, args=(w,)) for w in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (verdict(engine).rows, verdict(engine).problem) == (75, None)


def test_rows_written_before_the_chain_existed_are_chained_on_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    old = create_engine(url)
    with old.begin() as connection:  # the first release's table, and two rows in it
        connection.execute(
            text(
                "CREATE TABLE audit_record (id CHAR(32) PRIMARY KEY, event_id VARCHAR(400) UNIQUE, "
                "transition_id VARCHAR(200), kind VARCHAR(64), phase VARCHAR(64), gate VARCHAR(64), "
                "actor VARCHAR(254), at DATETIME NOT NULL, recorded_at DATETIME NOT NULL, detail JSON NOT NULL)"
            )
        )
        for n in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO audit_record VALUES (:id, :event, 't1', 'approved', 'planning', 'g', 'li', :at, :at, '{}')"
                ),
                {"id": f"{n:032d}", "event": f"t1/{n}", "at": AT + timedelta(seconds=n)},
            )
    upgraded = make_engine(url)
    with Session(upgraded) as session:
        write_entries([entry(3)], session=session)
    assert (verdict(upgraded).rows, verdict(upgraded).problem) == (3, None)


def keyed_trail(engine, *rows: AuditEntry) -> str | None:
    """The verdict on a transition that trusts a key, its commands signed by it, then ``rows``."""
    private, public = new_key_pair()
    signer = Signer(private)
    batch = signer.sign(
        "t1",
        ReadingsBatch(
            batches=[RecordReadings(period=p, values={"csat": v}, by="li") for p, v in (("W1", 90), ("W2", 91))],
            request_id="r-batch",
            via="cli",
        ),
        "run-1",
    )
    signed = {"command": "record_batch", "fields": signed_fields(batch), "run": "run-1"}
    first = entry(
        2,
        "kpi_reading",
        via="cli",
        signature=batch.signature,
        detail={"period": "W1", "values": {"csat": 90.0}, "signed": signed},
    )
    second = entry(3, "kpi_reading", via="cli", detail={"period": "W2", "values": {"csat": 91.0}})
    with Session(engine) as session:
        write_entries(
            [entry(1, "transition_started", detail={"trusted_keys": [public]}), first, second, *rows], session=session
        )
    return verdict(engine).problem


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (entry(4, via="web-link"), "row 4 (approved g) is not signed: it records a command sent through web-link"),
        (entry(4, "waived"), "row 4 (waived g) is not signed: it records a command, and this transition accepts"),
        (entry(4, "approved", via="feed"), "row 4 (approved g) is not signed"),
        (
            entry(4, "kpi_reading", via="api", detail={"period": "W3", "values": {"csat": 80.0}}),
            "row 4 (kpi_reading g) is not signed",
        ),
        (
            entry(4, "kpi_reading", via="cli", detail={"period": "W2", "values": {"csat": 60.0}}),
            "row 4 (kpi_reading g) is not signed",
        ),
        (entry(4, "kpi_reading", via="feed", detail={"period": "W3", "values": {"csat": 80.0}}), None),
        (entry(4, "gate_passed"), None),
        (entry(4, "signal_refused", via="api", detail={"reason": "not signed by a trusted key"}), None),
    ],
)
def test_where_keys_are_trusted_every_command_a_person_sent_is_signed(engine, row, problem):
    # The batch's later period carries no signature of its own: the first row's covers it.
    found = keyed_trail(engine, row)
    assert (found or "").startswith(problem or "") and (found is None) == (problem is None), found


def test_without_trusted_keys_unsigned_commands_verify(engine):
    with Session(engine) as session:
        write_entries([entry(1, "transition_started"), entry(2, via="cli")], session=session)
    assert verdict(engine).problem is None


def test_a_chain_rebuilt_after_an_edit_no_longer_matches_a_recorded_head(engine):
    from infra.audit import chain_head
    from infra.chain import hold_to_heads, row_hash
    from models.tables import AuditHead

    with Session(engine) as session:
        write_entries([entry(n) for n in (1, 2, 3)], session=session)
    recorded = chain_head(engine, "t1")
    assert recorded is not None and recorded.position == 3
    with Session(engine) as session:
        rows = read_chain("t1", session=session)
        assert hold_to_heads(rows, [recorded]) is None
        rows[1].actor, prev = "mallory", rows[0].hash
        for row in rows[1:]:  # as an insider would: every later hash, and the head, recomputed
            row.prev_hash = prev
            row.hash = prev = row_hash(row)
            session.add(row)
        head = session.get(AuditHead, "t1")
        head.hash = prev
        session.add(head)
        session.commit()
        rows = read_chain("t1", session=session)
    assert verify_chain(rows).problem is None
    assert (
        hold_to_heads(rows, [recorded])
        == "row 3 (approved g) does not match the chain head the transition recorded at position 3"
    )
    assert hold_to_heads(rows[:2], [recorded]).endswith("recorded its chain head at position 3: rows were removed")
