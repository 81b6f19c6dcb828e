"""Attack 42, on eac49e5 (a flush whose sent row collided answers the collision's reason and keeps
its writes' places; chain_before looks in the flush's own transition only; an unmarked flush
compares every key) and aa978b0 (a plan listing one kind of channel twice is refused where it is
read, not among the rules).

Actors: a plan author (plans through `bpo start`, `/start`, `bpo amend`, the web app's upload),
and an insider who writes the audit database but never holds the workers' secret. Each test
asserts the safe behaviour; the one finding left is marked xfail(strict=True) with its reason. Four
more were fixed: a sent row's collision answers its reason in `Flushed.collisions`, apart from
`audit_error` (which had the workflow keep rows it had written, and a run from before marks then
collide with its own rows for good), every such reason is kept, and a write takes one entry of an
id once (two channels of one kind in a plan kept from before such plans were refused).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.notify import Sent
from activities.outbox import OutboxActivities
from infra.audit import COLLISION, chain_head, write_entries
from infra.chain import hold_to_heads, row_hash, verify_chain
from infra.db import make_engine
from models.commands import Amend
from models.deliveries import AuditEntry, ChainHead, Delivery, Flush, Flushed, delivery_id
from models.plan import LogChannel, WebhookChannel
from models.plan_loader import PlanError, load_plan, parse_plan
from models.signing import new_key_pair
from models.tables import AuditRecord, audit_uuid
from tests.rules.sim import LI, Run
from tests.test_attack39 import N1, N2, chain, entry, heads_of, notice_delivery, run
from tests.test_attack41 import delete
from tests.test_flush_marks import Counting, chain_by_hand, started
from workflows.rules import deliveries as rules

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "examples" / "reference-plan.yaml").read_text()
PROGRAM = (ROOT / "examples" / "program-plan.yaml").read_text()
SECOND_WEBHOOK = "  - kind: webhook\n    url: https://hooks.example/other\n"


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env={})
    return [p.render("plan.yaml") for p in caught.value.problems]


def plant(engine: Engine, event_id: str, tid: str = "zz") -> None:
    """The insider puts a row, in no chain of the transition, under a predictable id."""
    with Session(engine) as session:
        session.add(AuditRecord(id=audit_uuid(event_id), event_id=event_id, transition_id=tid,
                                kind="notification_sent", phase="x", at=datetime.now(UTC), detail={}))  # fmt: skip
        session.commit()


def chain_row_by_hand(engine: Engine, event_id: str) -> int:
    """The insider chains a row at the tail of t1 and moves the head to it; its position."""
    row = AuditRecord(id=audit_uuid(event_id), event_id=event_id, transition_id="t1", kind="notification_sent",
                      phase="planning", at=datetime.now(UTC), detail={"forged": True})  # fmt: skip
    chain_by_hand(engine, row)
    head = chain_head(engine, "t1")
    assert head is not None
    return head.position


def covered(position: int, heads: list[ChainHead]) -> bool:
    """Whether a recorded write's segment claims the row at ``position`` as the transition's."""
    return any(h.since is not None and h.since < position <= h.position for h in heads)


def count_rows(engine: Engine, event_id: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditRecord).where(AuditRecord.event_id == event_id)).all())


def log_delivery(nid: str, tid: str = "t1") -> Delivery:
    d = notice_delivery(nid, tid)
    return d.model_copy(update={"channel": LogChannel(kind="log")})


# --- 1. a second channel of a kind, through each way a plan comes in ----------------------------


def test_the_json_form_of_a_plan_with_two_webhooks_is_refused_with_its_place(tmp_path: Path):
    data = yaml.safe_load(TEXT)
    data["notifications"].append({"kind": "webhook", "url": "https://hooks.example/other"})
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, default=str, indent=2))
    with pytest.raises(PlanError) as caught:
        load_plan(path, env={})
    said = str(caught.value)
    assert "notifications[3].kind: a second 'webhook' channel" in said
    assert f"{path}:" in said and caught.value.problems[0].line is not None


def test_a_workstream_listing_a_kind_twice_is_refused_at_its_line():
    own = "    scope: [chat_support]\n    notifications:\n      - kind: log\n      - kind: log\n"
    text = PROGRAM.replace("    scope: [chat_support]\n", own, 1)
    line = text[: text.index(own)].count("\n") + 4
    said = problems(text)
    expected = f"plan.yaml:{line}: workstreams[1].notifications[1].kind: a second 'log' channel: list each kind once"
    assert any(s.startswith(expected) for s in said), said


def test_a_workstream_naming_its_own_kind_beside_the_programs_is_no_duplicate():
    """A workstream's notifications replace the program's (`workstream_plan`): its own log beside
    the program's log is one channel each, accepted."""
    own = "    scope: [chat_support]\n    notifications:\n      - kind: log\n"
    plan = parse_plan(PROGRAM.replace("    scope: [chat_support]\n", own, 1), env={}).plan
    from models.workstreams import workstream_plan

    assert [c.kind for c in workstream_plan(plan, "chat").notifications] == ["log"]


@pytest.mark.parametrize("json_out", [False, True])
def test_bpo_validate_refuses_two_webhooks_with_the_line_and_no_traceback(tmp_path: Path, json_out: bool):
    text = TEXT.replace("  - kind: email\n", SECOND_WEBHOOK + "  - kind: email\n", 1)
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    line = text[: text.index(SECOND_WEBHOOK)].count("\n") + 1
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    env.pop("BPO_CONNECTIONS", None)
    args = [sys.executable, "-m", "starter", "validate", str(path), *(["--json"] if json_out else [])]
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    if json_out:
        verdict = json.loads(done.stdout)
        assert {"path": "notifications[2].kind", "line": line} == {
            k: v for k, v in verdict["problems"][0].items() if k != "message"
        }
    else:
        assert f"{path}:{line}: notifications[2].kind: a second 'webhook' channel" in done.stderr + done.stdout


@pytest.mark.xfail(
    strict=True,
    reason="finding: check_proposal (workflows/rules/amendments.py:90) runs cross_check and boundary_check "
    "but not channels_once, so an amendment sent straight to the workflow (as docs/security.md guards the "
    "boundary against) gives a running transition a second channel of a kind; refusing only kinds the "
    "running plan does not already list twice (as reserved_names keeps old keys) would keep running plans",
)
def test_an_amendment_sent_straight_to_the_workflow_may_not_add_a_second_channel_of_a_kind():
    """`check_proposal` refuses a mail server of the plan's own "even sent straight to the workflow"
    (docs/security.md); a second webhook, which makes every notice's two deliveries share one
    sent row (the second taken for sent after a lost worker), passes it."""
    run = Run()
    plan = run.machine.plan
    assert [c.kind for c in plan.notifications].count("webhook") == 1
    doubled = plan.model_copy(
        update={"notifications": [*plan.notifications, WebhookChannel(kind="webhook", url="https://hooks.example/b")]}
    )
    says = run.refused(Amend(plan=doubled, reason="a second webhook", by=LI), "BadPlan")
    assert "webhook" in says


@pytest.mark.parametrize("kind", ["Webhook", "WEBHOOK", '"webhook "', "webhook\u200b", "!!str webhook"])
def test_a_kind_spelled_otherwise_is_refused_or_counted_as_the_same(kind: str):
    text = TEXT.replace(
        "  - kind: email\n", f"  - kind: {kind}\n    url: https://hooks.example/o\n  - kind: email\n", 1
    )
    said = " ".join(problems(text))
    assert "unknown kind" in said or "a second 'webhook' channel" in said


# --- 2. a running transition that kept a plan with a kind twice ----------------------------------


async def test_a_running_plan_with_two_log_channels_does_not_stall_its_trail(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    one, two = log_delivery("t1/run/3"), log_delivery("t1/run/3")
    first = await run(notify, [entry("t1/run/2")], [one, two], N1)
    kept = [o.entry for o in first.outcomes if o.entry]  # what `settle` puts in the outbox
    later = await run(notify, [*kept, entry("t1/run/4")], [], N2)
    assert later.audit_error is None, f"the trail stalls: {later.audit_error}"
    assert count_rows(engine, "t1/run/4") == 1 and count_rows(engine, "t1/run/3/log") == 1
    again = await run(notify, [*kept, entry("t1/run/4"), entry("t1/run/6")], [], N2)
    assert again.audit_error is None, "and every later flush the same"


def failing_writes(engine: Engine, fails: Callable[[list[AuditEntry]], bool]) -> tuple[Counting, OutboxActivities]:
    """The flush activity, whose audit writes ``fails`` picks fail as a database away a moment would."""
    notify = Counting(engine, httpx.AsyncClient())
    outbox = OutboxActivities(notify, timedelta(hours=1))
    real = outbox.writer.write

    async def write(entries: list[AuditEntry], flush: str | None = None) -> tuple[int, list[ChainHead]]:
        if fails(entries):
            raise ConnectionError("database away a moment")
        return await real(entries, flush)

    outbox.writer.write = write  # type: ignore[method-assign]
    return notify, outbox


async def test_a_running_plan_with_two_webhooks_survives_a_blip_of_the_database(tmp_path: Path):
    engine, _ = started(tmp_path)
    notify, outbox = failing_writes(engine, lambda rows: len(rows) == 1 and rows[0].kind == "notification_sent")
    a = notice_delivery("t1/run/3")
    b = a.model_copy(update={"channel": WebhookChannel(kind="webhook", url="https://hooks.example/b")})
    first = await ActivityEnvironment().run(outbox.flush, Flush(audit=[entry("t1/run/2")], deliveries=[a, b], nonce=N1))
    assert notify.sends == 2 and first.audit_error is None
    kept = [o.entry for o in first.outcomes if o.entry]
    assert len(kept) == 2, "both sent, neither audited: the workflow writes both next"
    later = await run(notify, [*kept, entry("t1/run/4")], [], N2)
    assert later.audit_error is None, f"the trail stalls: {later.audit_error}"


# --- 3. a sent row's collision: the workflow's re-queue, its pace, what verify sees -------------


async def a_collided_flush(tmp_path: Path, nonce: str | None) -> tuple[Engine, ChainHead, Counting, Any, Flushed]:
    """A flush of two entries and two notices whose second sent row collides with a row planted
    first (with no ``nonce``, as a run from before flush-marked flushes), its answer taken by the
    rules (`rows_kept`, `settle`): the table, the head before, the sends, the machine, the answer."""
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    m = Run().machine
    deliveries = [notice_delivery("t1/run/3"), notice_delivery("t1/run/5")]
    plant(engine, delivery_id(deliveries[1]))
    now, rows = datetime.now(UTC), [entry("t1/run/2"), entry("t1/run/4")]
    flushed = await run(notify, rows, deliveries, nonce)
    assert flushed.audit_error is None and any(COLLISION in c for c in flushed.collisions)
    rules.rows_kept(m, rows, flushed.audit_error, now)
    rules.settle(m, deliveries, flushed.outcomes, now, timedelta(hours=1))
    return engine, before, notify, m, flushed


async def test_a_collided_flush_requeued_by_the_rules_writes_nothing_twice_and_verifies(tmp_path: Path):
    """The rules' own re-queue (`rows_kept`, `settle`, `take_rows`): the collided sent row goes
    into the outbox, the written rows nowhere; once the planted row is gone, everything is in the
    table once, no notice is sent twice, and every recorded head holds."""
    engine, before, notify, m, f1 = await a_collided_flush(tmp_path, N1)
    assert f1.audit_head is None and f1.writes
    now, d2 = datetime.now(UTC), delivery_id(notice_delivery("t1/run/5"))
    flushes: list[Flushed] = [f1]
    assert rules.waiting(m, now)
    again = rules.take_rows(m)
    assert [e.id for e in again] == [d2], "the written rows are not kept again"
    f2 = await run(notify, again, [], N2)
    flushes.append(f2)
    assert f2.audit_error and COLLISION in f2.audit_error
    rules.rows_kept(m, again, f2.audit_error, now)
    delete(engine, d2)  # the planted row is gone
    later = now + timedelta(minutes=1)
    m.outbox.audit.append(entry("t1/run/6"))  # the transition goes on (the sim machine's ids are another's)
    assert rules.waiting(m, later)
    third = rules.take_rows(m)
    f3 = await run(notify, third, [], N2)
    flushes.append(f3)
    rules.rows_kept(m, third, f3.audit_error, later)
    assert f3.audit_error is None and m.state.unwritten == [] and m.state.audit_attempts == 0
    assert notify.sends == 2, "no notice sent twice"
    for e in third:
        assert count_rows(engine, e.id) == 1, e.id
    rows_now = chain(engine)
    assert verify_chain(rows_now).problem is None
    assert hold_to_heads(rows_now, [before, *heads_of(*flushes)]) is None


async def test_an_unmarked_runs_collided_flush_carried_into_a_marked_run_does_not_stall_for_good(tmp_path: Path):
    """A run from before marks whose sent row collided: nothing it wrote is kept for a later flush,
    so a marked run after continue-as-new never meets its unmarked rows as another's."""
    engine, _, notify, m, _ = await a_collided_flush(tmp_path, None)  # a run from before flush-marked
    d2 = delivery_id(notice_delivery("t1/run/5"))
    delete(engine, d2)  # the planted row is gone
    # continue-as-new: `unwritten` carried; the new run's flushes mark
    carried = rules.take_rows(m)
    assert [e.id for e in carried] == [d2], "the unmarked rows written are not kept again"
    new = await run(notify, [*carried, entry("t1/run/6")], [], N2)
    assert new.audit_error is None, f"the transition's own rows collide with themselves: {new.audit_error}"
    assert count_rows(engine, "t1/run/2") == 1 and count_rows(engine, "t1/run/6") == 1


def test_a_collision_that_stands_is_tried_again_at_a_pace_not_in_a_loop():
    """Nothing new happens: the flushes a standing collision makes within an hour stay few."""
    m = Run().machine
    m.outbox.audit = []
    now = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    m.outbox.audit.append(AuditEntry(id="t-1/x/99", transition_id="t-1", kind="notification_sent", phase="p", at=now))
    flushes, t = 0, now
    while t < now + timedelta(hours=1):
        if rules.waiting(m, t):
            flushes += 1
            rows = rules.take_rows(m)
            rules.rows_kept(m, rows, COLLISION + "'t-1/x/99'", t)
        t += timedelta(seconds=1)
    assert flushes <= 12, f"{flushes} flushes in an hour"


async def test_a_row_chained_by_hand_during_the_flush_under_its_sent_rows_id_is_covered_by_no_write(
    tmp_path: Path,
):
    """The insider chains, while the notice is being sent, a row under its sent row's id: the
    sent row collides, and none of the writes the flush keeps covers the planted row; the next
    genuine write after it is told apart from it by `bpo audit --verify`."""
    engine, before = started(tmp_path)
    d1, d2 = notice_delivery("t1/run/3"), notice_delivery("t1/run/5")
    planted: list[int] = []

    class Insider(Counting):
        async def send(self, delivery: Delivery, attempt: int = 1) -> Sent:
            self.sends += 1
            if delivery.notice.id == "t1/run/5":
                await asyncio.sleep(0.05)  # d1's sent row first
                planted.append(await asyncio.to_thread(chain_row_by_hand, engine, delivery_id(delivery)))
            else:
                await asyncio.sleep(0.01)
            return Sent()

    notify = Insider(engine, httpx.AsyncClient())
    f1 = await run(notify, [entry("t1/run/2")], [d1, d2], N1)
    assert any(COLLISION in c for c in f1.collisions) and f1.audit_head is None
    [position] = planted
    assert not covered(position, heads_of(f1))
    f2 = await run(notify, [], [notice_delivery("t1/run/7")], N2)  # a later notice's sent row
    rows = chain(engine)
    assert verify_chain(rows).problem is None  # chained properly by hand
    assert not covered(position, heads_of(f1, f2))
    assert hold_to_heads(rows, [before, *heads_of(f1, f2)]) is not None, "the planted row goes unseen"


async def test_a_planted_head_row_before_a_retry_of_a_collided_flush_is_not_adopted(tmp_path: Path):
    """The first try's sent row collided (a row planted in another transition); before the task
    runs again, the insider chains a row at the tail of the transition. The retry's earlier-try
    head (`chain_before`) must not cover it."""
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    d1, d2 = notice_delivery("t1/run/3"), notice_delivery("t1/run/5")
    plant(engine, delivery_id(d2))
    batch = ([entry("t1/run/2")], [d1, d2])
    await run(notify, *batch, N1)  # lost with the worker
    position = chain_row_by_hand(engine, "t1/run/9/webhook")
    redone = await run(notify, *batch, N1)
    assert redone.audit_head is None and not covered(position, heads_of(redone))
    assert notify.sends == 3, "d1 not sent again; d2 (whose stored row is not its own) sent again"


async def test_a_row_planted_at_the_position_the_write_will_take_is_never_anchored(tmp_path: Path):
    """The insider inserts a row at the next position without moving the head: the write cannot
    take that place, the flush says it did not write, and no head covers the planted row."""
    engine, before = started(tmp_path)
    notify = Counting(engine, httpx.AsyncClient())
    head = chain_head(engine, "t1")
    assert head is not None
    with Session(engine) as session:
        row = AuditRecord(id=audit_uuid("t1/run/2"), event_id="t1/run/x", transition_id="t1", kind="reminded",
                          phase="planning", at=datetime.now(UTC), detail={}, position=head.position + 1,
                          prev_hash=head.hash)  # fmt: skip
        row.hash = row_hash(row)
        session.add(row)
        session.commit()
    f = await run(notify, [entry("t1/run/3")], [], N1)
    assert f.audit_error is not None and f.audit_head is None
    assert not covered(head.position + 1, heads_of(f))


async def test_a_collision_is_named_in_the_history_even_when_the_batch_write_also_failed(tmp_path: Path):
    engine, _ = started(tmp_path)
    _, outbox = failing_writes(engine, lambda rows: bool(rows) and rows[0].kind == "reminded")
    d = notice_delivery("t1/run/3")
    plant(engine, delivery_id(d))
    f = await ActivityEnvironment().run(outbox.flush, Flush(audit=[entry("t1/run/2")], deliveries=[d], nonce=N1))
    assert f.audit_error is not None and f.audit_head is None
    delete(engine, delivery_id(d))  # gone before the next flush
    assert any(COLLISION in c for c in f.collisions), f"the history says only: {f.audit_error}"


# --- 4. chain_before in its own transition: a program and its workstream ------------------------


async def test_a_workstreams_flush_run_again_beside_its_programs_finds_its_own_rows(tmp_path: Path):
    """Ids nest ("p" and "p/ws"): the workstream's and the program's flushes interleave, each is
    lost and run again; each finds its own earlier try, sends nothing twice, and verifies."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    _, public = new_key_pair()
    for tid in ("p", "p/ws"):
        with Session(engine) as session:
            write_entries([AuditEntry(id=f"{tid}/rk/1", transition_id=tid, kind="transition_started",
                                      phase="planning", at=datetime.now(UTC),
                                      detail={"trusted_keys": [public], **({"program": "p"} if "/" in tid else {})})],
                          session=session)  # fmt: skip
    befores = {tid: chain_head(engine, tid) for tid in ("p", "p/ws")}
    notify = Counting(engine, httpx.AsyncClient())
    ws = ([entry("p/ws/rk/2", tid="p/ws")], [notice_delivery("p/ws/rk/3", tid="p/ws")])
    prog = ([entry("p/rk/2", tid="p")], [notice_delivery("p/rk/3", tid="p")])
    await run(notify, *ws, N1)  # lost
    await run(notify, *prog, N1)  # lost
    ws_again = await run(notify, *ws, N1)
    prog_again = await run(notify, *prog, N1)
    ws_next = await run(notify, [entry("p/ws/rk/4", tid="p/ws")], [], N2)
    prog_next = await run(notify, [entry("p/rk/4", tid="p")], [], N2)
    assert notify.sends == 2, "nothing sent twice"
    for redone in (ws_again, prog_again, ws_next, prog_next):
        assert redone.audit_error is None and redone.audit_head is not None
    for tid, flushes in (("p/ws", (ws_again, ws_next)), ("p", (prog_again, prog_next))):
        rows = chain(engine, tid)
        assert verify_chain(rows).problem is None, tid
        assert hold_to_heads(rows, [befores[tid], *heads_of(*flushes)]) is None, tid
        assert all(h.position <= len(rows) for h in heads_of(*flushes))
