"""The audit chain held against the heads the transition recorded in Temporal's history, and
the signatures a transition that trusts keys requires: the real dev server, worker and `bpo`,
and an insider with the audit database who edits a row and rebuilds the chain after it."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from infra.audit import read_chain
from infra.chain import row_hash
from infra.db import make_engine
from models.signing import new_key_pair
from models.tables import AuditHead
from tests.stack import DANA, LI, RAJ, REFERENCE_PLAN, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def keyed(request, tmp_path: Path):
    """A stack whose `bpo` signs with a key the transitions it starts trust; its payloads
    encrypted when the test asks for it (``indirect``)."""
    private, public = new_key_pair()
    extra = {"BPO_SIGNING_KEY": private, "BPO_TRUSTED_KEYS": public}
    if getattr(request, "param", None) == "encrypted":
        extra["BPO_ENCRYPTION_KEY"] = base64.b64encode(bytes(range(32))).decode()
    stack = Stack(tmp_path, extra)
    stack.start_server()
    stack.start_worker()
    yield stack
    stack.stop()


def rebuild(url: str, tid: str, edit: Any) -> int:
    """As an insider with the database would: edit one row (``edit`` picks and changes it), then
    recompute every later hash and the chain's head so the chain links again. Returns the
    edited row's position."""
    with Session(make_engine(url)) as session:
        rows = read_chain(tid, session=session)
        edited = edit(rows)
        prev = rows[edited - 2].hash if edited > 1 else "0" * 64
        for row in rows[edited - 1 :]:
            row.prev_hash = prev
            row.hash = prev = row_hash(row)
            session.add(row)
        head = session.get(AuditHead, tid)
        assert head is not None
        head.hash = prev
        session.add(head)
        session.commit()
    return edited


def decide(s: Stack, tid: str) -> None:
    s.ok("approve", tid, "gap_analysis_approved", "--by", LI, "--note", "gap analysis v3 accepted")
    s.ok("approve", tid, "slas_signed", "--by", DANA)
    s.ok("approve", tid, "slas_signed", "--by", RAJ)


def test_a_chain_rebuilt_by_hand_fails_against_the_head_the_transition_recorded(keyed, tmp_path: Path):
    s = keyed
    url = f"sqlite:///{tmp_path}/audit.db"
    forged, backdated = (s.ok("start", str(REFERENCE_PLAN), "--id", n).strip() for n in ("forged", "backdated"))
    for tid in (forged, backdated):
        decide(s, tid)

    untouched = s.bpo("audit", backdated, "--verify")
    assert untouched.returncode == 0, untouched.stderr
    rows = int(re.search(r"verified (\d+) rows", untouched.stdout).group(1))  # type: ignore[union-attr]
    assert rows > 5 and "3 signatures hold" in untouched.stdout
    assert "matches the chain head the transition recorded in Temporal" in untouched.stdout

    def forge_a_waiver(chain: list[Any]) -> int:
        # A system row after the first approval becomes a waiver "sent from the command line".
        row = next(r for r in chain if r.position > 3 and r.via is None and r.kind != "transition_started")
        row.kind, row.gate, row.actor, row.via = "waived", "slas_signed", DANA, "cli"
        row.detail = {"note": "agreed in steering committee"}
        return row.position

    at = rebuild(url, forged, forge_a_waiver)
    refused = s.bpo("audit", forged, "--verify")
    assert refused.returncode == 1
    assert f"row {at} (waived slas_signed) is not signed: it records a command sent through cli" in refused.stderr

    def backdate(chain: list[Any]) -> int:
        # A row of the transition's own (no signature to break) moved a day earlier.
        row = next(r for r in chain if r.position > 3 and r.via is None)
        row.at = row.at - timedelta(days=1)
        return row.position

    at = rebuild(url, backdated, backdate)
    caught = s.bpo("audit", backdated, "--verify")
    assert caught.returncode == 1
    named = re.search(
        r"row (\d+) \([a-z_ ]+\) does not match the chain head the transition recorded at position (\d+)", caught.stderr
    )
    assert named, caught.stderr
    assert named.group(1) == named.group(2) and int(named.group(1)) >= at

    s.kill("server")
    unchecked = s.bpo("audit", backdated, "--verify")
    assert unchecked.returncode == 3  # the rebuilt chain holds by itself; only the anchor would tell
    assert "the chain head the transition recorded could not be checked" in unchecked.stderr


@pytest.mark.parametrize("keyed", ["plain", "encrypted"], indirect=True)
def test_the_chain_head_recorded_after_every_flush_is_in_status_and_a_signed_batch_verifies(keyed, tmp_path: Path):
    s = keyed
    tid = s.ok("start", str(REFERENCE_PLAN), "--id", "headed").strip()
    decide(s, tid)
    readings = tmp_path / "readings.csv"  # one signed batch: its later periods' rows carry no signature
    readings.write_text("period,metric,value\nW1,csat,90\nW2,csat,91\nW3,csat,92\n")
    s.ok("kpi", tid, "--file", str(readings), "--by", LI)
    verified = s.ok("audit", tid, "--verify")  # waits for the trail to settle
    assert "4 signatures hold, and it matches the chain head" in verified
    with Session(make_engine(f"sqlite:///{tmp_path}/audit.db")) as session:
        head = session.get(AuditHead, tid)
        assert head is not None
        status = s.wait_for(tid, lambda st: (st["audit_head"] or {}).get("position") == head.position)
        assert status["audit_head"]["hash"] == head.hash


def test_rows_an_insider_appends_between_two_flushes_fail_even_once_a_later_flush_covers_them(keyed, tmp_path: Path):
    # A row needing no signature (a KPI reading a feed brought), appended to the chain as the
    # writer itself would; the next decision's flush then records a head past it.
    from datetime import UTC, datetime

    from infra.audit import write_entries
    from models.deliveries import AuditEntry

    s = keyed
    url = f"sqlite:///{tmp_path}/audit.db"
    tid = s.ok("start", str(REFERENCE_PLAN), "--id", "appended").strip()
    s.ok("approve", tid, "gap_analysis_approved", "--by", LI)
    assert s.bpo("audit", tid, "--verify").returncode == 0
    forged = AuditEntry(
        id=f"{tid}/forged-1", transition_id=tid, kind="kpi_reading", phase="planning", at=datetime.now(UTC),
        via="feed", detail={"period": "W1", "values": {"csat": 99.0}, "feed": "genesys"},
    )
    with Session(make_engine(url)) as session:
        write_entries([forged], session=session)
    s.ok("approve", tid, "slas_signed", "--by", DANA)
    caught = s.bpo("audit", tid, "--verify")
    assert caught.returncode == 1, caught.stdout
    assert "(kpi_reading) to row" in caught.stderr and "by something other than the transition" in caught.stderr
