"""Attacks on programs through the workflow on the time-skipping server (issue #27): what an
operator does with `bpo` or the API, and what `bpo audit --verify` says of a workstream's
relayed rows. Each test fails while its finding stands."""

from __future__ import annotations

import contextlib
import uuid

from bpo.anchors import read_record
from bpo.api import audit_settled, first_run, start_transition
from bpo.commands.common import Exit
from bpo.commands.verifying import verify_trail
from infra.audit import trail_of
from infra.db import make_engine
from models.commands import Amend, Cancel, Note, Pause, Resume
from models.constants import WORKFLOW_NAME
from models.messages import StartTransition
from models.plan import Plan
from models.plan_loader import parse_plan
from tests.driver import Driver
from tests.stack import DANA, EVE, LI
from tests.test_workstreams import PROGRAM_PLAN, lane, program_plan, signed_program, until

TEXT = PROGRAM_PLAN.read_text()


def plain_plan() -> Plan:
    """The example program as a plain transition: no workstreams, an approval gate in their place."""
    start, end = TEXT.index("workstream_phases:"), TEXT.index("phases:\n  - key: planning")
    gate = (
        "      - key: all_live\n        name: Every workstream live\n        kind: workstreams\n        passed: all\n"
    )
    own = "      - {key: all_live, kind: approval, approvers: {roles: [executive_sponsor]}}\n"
    assert gate in TEXT
    return parse_plan((TEXT[:start] + TEXT[end:]).replace(gate, own), env={}).plan


async def test_a_transition_amended_into_a_program_starts_its_workstreams(launch, env, worker):
    """An operator amends a running plain transition (still in planning) to the program plan;
    the sponsor approves it and signs the contract off. The program's rules now want email and
    voice started, but the workflow started no task to start them (it looks for workstreams only
    when a run begins), so they wait until the run happens to continue as new, and that
    continue-as-new waits for the starts that nothing makes."""
    t = await launch(plain_plan())
    await t.do(Amend(plan=program_plan(), by=LI, reason="run the channels as workstreams"))
    await t.approve("amendment_1", DANA)
    await t.approve("contract_signed", DANA)
    status = await t.status()
    assert status.phase == "transition" and [w.key for w in status.workstreams] == ["email", "chat", "voice"]
    await until(t, lambda s: lane(s, "email")[0] == lane(s, "voice")[0] == "running", "email and voice start")


async def test_a_transition_amended_into_a_program_still_continues_as_new(launch, env, worker):
    """The same amended transition, then sixty notes on it (any decisions do): its history
    passes the run's budget (340 events), and the run waits for ever to continue as new, since it
    first waits for workstream starts that no task makes. The history grows without end, and the
    main loop, stuck there, no longer wakes for due dates. The same program started as one
    continues as new at once."""
    t = await launch(plain_plan())
    await t.do(Amend(plan=program_plan(), by=LI, reason="run the channels as workstreams"))
    await t.approve("amendment_1", DANA)
    await t.approve("contract_signed", DANA)
    for i in range(60):
        status = await t.do(Note(text=f"steering note {i}", by=LI))
    length = (await env.client.get_workflow_handle(t.id).describe()).history_length
    assert status.runs >= 2, f"still run {status.runs}, {length} events in its history"


async def test_bpo_audit_verify_holds_for_a_workstreams_relayed_rows(env, worker, settings):
    """A signed program: the sponsor signs the contract off, the program manager pauses and
    resumes the program, the pause and resume relayed to email as signed. `bpo audit --verify`
    (its chain, signatures and the head recorded in Temporal) on email and on the program."""
    tid, _, signed = await signed_program(env, settings)
    email = Driver(env, env.client, f"{tid}/email")
    await signed(tid, Pause(by=LI, reason="freeze"))
    await until(email, lambda s: s.state == "paused", "email paused with the program")
    await signed(tid, Resume(by=LI, reason="freeze over"))
    await until(email, lambda s: s.state == "running", "email resumed with the program")
    assert await first_run(env.client, tid)

    engine = make_engine(settings.audit_url)
    for target in (tid, email.id):
        assert await audit_settled(env.client, target, 20) == 0, target
        rows = trail_of(engine, target)
        record = await read_record(env.client, target)
        if target == email.id:
            assert {"paused", "resumed"} <= {r.kind for r in rows}, [r.kind for r in rows]
        try:
            verify_trail(target, rows, record, as_json=True)
        except Exit as exit_:
            raise AssertionError(f"bpo audit --verify {target}: {exit_}") from None


async def test_a_program_with_the_longest_ids_runs_its_workstreams(env, worker, settings):
    """A program id of 120 characters and a workstream key of 40: the workstream starts, reports,
    and its audit rows are written under its id of 161 characters."""
    key = "e" * 40
    plan = parse_plan(
        TEXT.replace("  - key: email\n", f"  - key: {key}\n", 1).replace(
            "after: {email: pilot}", f"after: {{{key}: pilot}}"
        ),
        env={},
    ).plan
    tid = await start_transition(
        env.client, plan, task_queue=settings.task_queue, transition_id="p" * 111 + uuid.uuid4().hex[:9]
    )
    assert len(tid) == 120
    program = Driver(env, env.client, tid)
    await program.approve("contract_signed", DANA)
    status = await until(program, lambda s: lane(s, key)[0] == "running", "the long workstream runs")
    stream = Driver(env, env.client, f"{tid}/{key}")
    assert (await stream.status()).program == tid
    assert await audit_settled(env.client, stream.id, 20) == 0
    rows = trail_of(make_engine(settings.audit_url), stream.id)
    assert rows and rows[0].kind == "transition_started", status


async def test_a_workstream_id_cannot_be_taken_before_its_program_starts_it(env, worker, settings):
    """Through Temporal's port (lower priority): someone starts a plain transition under the id
    `PROGRAM/email` before the program reaches its workstreams (bpo refuses the id; the workflow
    does not). When the program starts email, the id is taken: email is blocked, the program
    escalates, and `bpo status PROGRAM/email` shows the squatter's transition, with its own roster
    and keys, as the program's workstream."""
    program = await Driver.start(env, program_plan(), settings.task_queue)
    squat = StartTransition(id=f"{program.id}/email", plan=plain_plan())
    await env.client.start_workflow(WORKFLOW_NAME, squat, id=squat.id, task_queue=settings.task_queue)
    await program.approve("contract_signed", DANA)
    status = await until(program, lambda s: lane(s, "voice")[0] == "running", "voice starts")
    status = await until(program, lambda s: lane(s, "email")[0] != "starting", "email settles")
    email = next(w for w in status.workstreams if w.key == "email")
    assert email.state == "running", email.waiting


async def test_a_program_cancelled_while_its_workstreams_start_leaves_none_running(launch, env, worker):
    """The sponsor signs the contract off and, at once, cancels the program (the deal is off)
    while email and voice are being started: every workstream that started is cancelled too."""
    program = await launch(program_plan())
    await program.approve("contract_signed", DANA)
    await program.do(Cancel(by=DANA, reason="deal off"))
    for key in ("email", "voice"):
        stream = Driver(env, env.client, f"{program.id}/{key}")
        try:
            await until(stream, lambda s: s.state == "cancelled", f"{key} cancelled with its program")
        except AssertionError:
            described = None
            with contextlib.suppress(Exception):
                described = (await env.client.get_workflow_handle(stream.id).describe()).status
            assert described is None, f"{key}: {described}"  # never started: fine


async def test_a_cancelled_programs_status_shows_its_workstreams_cancelled(launch, env, worker):
    """The sponsor cancels a program whose email and voice run: both are cancelled (the relay
    works), but the program ends before their reports come back, so `bpo status PROGRAM` shows
    email and voice running, for good, in a program that is over."""
    program = await launch(program_plan())
    await program.approve("contract_signed", DANA)
    await until(program, lambda s: lane(s, "email")[0] == lane(s, "voice")[0] == "running", "email and voice run")
    await program.do(Cancel(by=DANA, reason="deal off"))
    for key in ("email", "voice"):
        stream = Driver(env, env.client, f"{program.id}/{key}")
        await until(stream, lambda s: s.state == "cancelled", f"{key} cancelled with its program")
    status = await program.status()
    assert status.state == "cancelled"
    assert [(w.key, w.state) for w in status.workstreams] == [(k, "cancelled") for k in ("email", "chat", "voice")]


async def test_workstreams_and_program_keep_talking_across_the_programs_continue_as_new(launch, env, worker):
    """Sixty notes on the program carry it past its history budget (it continues as new); its
    pause still reaches email, and email's progress still reaches the program."""
    program = await launch(program_plan())
    await program.approve("contract_signed", DANA)
    await until(program, lambda s: lane(s, "email")[0] == "running", "email runs")
    for i in range(60):
        status = await program.do(Note(text=f"steering note {i}", by=LI))
    assert status.runs >= 2
    email = Driver(env, env.client, f"{program.id}/email")
    await email.tick("process_maps", EVE, "email_support")
    await until(program, lambda s: "knowledge_transfer" in lane_of(s, "email").passed, "email's progress reported")
    await program.do(Pause(by=LI, reason="freeze"))
    await until(email, lambda s: s.state == "paused", "email paused with the program after its continue-as-new")


def lane_of(status, key):
    return next(w for w in status.workstreams if w.key == key)


async def test_a_workstreams_continue_as_new_keeps_its_link_and_its_reports_counting(launch, env, worker):
    """Sixty notes on email carry it past its budget; its next report still counts at the program
    (its sequence carried), and the program's pause still reaches it."""
    program = await launch(program_plan())
    await program.approve("contract_signed", DANA)
    await until(program, lambda s: lane(s, "email")[0] == "running", "email runs")
    email = Driver(env, env.client, f"{program.id}/email")
    for i in range(60):
        status = await email.do(Note(text=f"email note {i}", by=LI))
    assert status.runs >= 2 and status.program == program.id
    await email.tick("process_maps", EVE, "email_support")
    await until(program, lambda s: "knowledge_transfer" in lane_of(s, "email").passed, "email's progress reported")
    await program.do(Pause(by=LI, reason="freeze"))
    await until(email, lambda s: s.state == "paused", "email paused after its own continue-as-new")
