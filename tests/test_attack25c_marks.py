"""Attack on `flush-marked-2026-12` (issue 25, branch ``attack25c``): a flush's mark is a hash of
``workflow.uuid4()``, which the Temporal SDK makes with Python's Mersenne Twister seeded by a
SipHash-1-3 of the run's original run id (sdk-core ``str_to_randomness_seed``; the SDK's own
docstring says it "should not be used for security purposes"). The first run's id is in the audit
table itself (``detail.signed.run`` of every signed row), so whoever writes the table computes
every flush's value of the first run, the next one included, and can put a delivery's sent row,
marked as the next flush's own, under its id before it runs: the notice is then never sent
(`infra.audit.sent_before`), and a row chained after it is covered by the flush's head.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from infra.audit import FLUSH_MARK, read_chain, record_of
from infra.db import make_engine
from models.deliveries import sent_entry
from models.signing import new_key_pair
from models.tables import AuditRecord
from tests.stack import LI, Stack, short_plan
from tests.test_flush_marks import Counting, chain_by_hand, escalation, flush, started

_M = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M


def siphash13(data: bytes) -> int:
    """SipHash-1-3 with the zero key (Rust's ``SipHasher13::new()``)."""
    v = [0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573]

    def rounds(n: int) -> None:
        for _ in range(n):
            v[0] = (v[0] + v[1]) & _M
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & _M
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _M
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _M
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    end = len(data) - len(data) % 8
    blocks = [int.from_bytes(data[i : i + 8], "little") for i in range(0, end, 8)]
    blocks.append(((len(data) & 0xFF) << 56) | int.from_bytes(data[end:].ljust(8, b"\0"), "little"))
    for m in blocks:
        v[3] ^= m
        rounds(1)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(3)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def flush_values(run_id: str, n: int = 300) -> list[str]:
    """Every ``workflow.uuid4()`` a run makes, in order, from its run id alone."""
    rng = random.Random(siphash13(run_id.encode() + b"\xff"))  # Rust's str::hash adds 0xff
    return [str(uuid.UUID(bytes=rng.getrandbits(128).to_bytes(16, "big"), version=4)) for _ in range(n)]


def predicted(rows: list[AuditRecord], values: list[str]) -> dict[str, int]:
    """The rows whose flush mark the attacker computed, and which value made it."""
    found = {}
    for row in rows:
        mark = (row.detail or {}).get(FLUSH_MARK)
        for k, value in enumerate(values):
            if mark and mark == hashlib.sha256(f"{value}\n{row.event_id}".encode()).hexdigest():
                found[row.event_id] = k
    return found


@pytest.mark.e2e
def test_a_database_administrator_computes_every_flush_mark_from_the_table_alone(tmp_path: Path):
    """Real dev server and worker: the marks the worker wrote are computed from the first run's
    id, which a signed row of the same table carries; so is the next flush's value."""
    private, _ = new_key_pair()
    s = Stack(tmp_path, {"BPO_SIGNING_KEY": private})
    s.start_server()
    s.start_worker()
    try:
        tid = s.ok("start", str(short_plan(tmp_path)), "--id", "marked").strip()
        s.ok("approve", tid, "gap_analysis_approved", "--by", LI, "--note", "accepted")
        deadline = time.monotonic() + 60
        while (done := s.bpo("audit", tid, "--verify")).returncode != 0:
            assert time.monotonic() < deadline, done.stdout + done.stderr
            time.sleep(1)
        with Session(make_engine(f"sqlite:///{tmp_path / 'audit.db'}")) as session:
            rows = read_chain(tid, session=session)
        runs = {(r.detail.get("signed") or {}).get("run") for r in rows} - {None, ""}
        assert runs, "a signed row names the run family"
        marked = [r for r in rows if (r.detail or {}).get(FLUSH_MARK)]
        assert marked, "the worker marked its rows"
        computed = predicted(marked, flush_values(runs.pop()))
        assert not computed, (
            f"whoever writes the table computed the flush marks of {sorted(computed)} from the run id a "
            f"signed row carries (values #{sorted(set(computed.values()))}); the next flush's is #"
            f"{max(computed.values()) + 1}"
        )
    finally:
        s.stop()


async def test_a_sent_row_marked_with_the_predicted_next_value_stops_the_notice(tmp_path: Path):
    """The second half: the value is the flush's only secret. With the next value computed (as
    above), the row a delivery would write, marked and dated earlier, is taken for the flush's
    own earlier try and the escalation never reaches the sponsor."""
    engine, _ = started(tmp_path)
    delivery = escalation()
    nonce = flush_values("0f5a3c0e-6a4c-4a53-9a31-7f1e0c2b9d11")[3]  # the run id of a signed row
    forged = record_of(sent_entry(delivery, {}), nonce)
    forged.at = datetime.now(UTC) - timedelta(hours=1)
    chain_by_hand(engine, forged)
    notify = Counting(engine, httpx.AsyncClient())
    await flush(notify, delivery, nonce=nonce)
    assert notify.sends == 1, "the escalation reached the sponsor"
