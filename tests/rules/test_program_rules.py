"""A program's rules without a server: which workstreams start when, what reports change, a
workstream cancelled alone, one blocked by it, and relayed commands checked as signed for the
program (semantics: "Workstreams")."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from models.audit_events import EVENTS, event_of
from models.commands import Approve, Cancel, Pause
from models.plan_loader import load_plan
from models.program import ProgramLink, WorkstreamReport, relayed
from models.signing import Signer, new_key_pair
from models.workstreams import workstream_plan
from tests.rules.sim import DANA, LI, START, Run
from workflows.rules import Machine

PROGRAM = load_plan(Path(__file__).resolve().parents[2] / "examples" / "program-plan.yaml", env={}).plan


def lanes(run: Run) -> dict[str, str]:
    return {w.key: w.state for w in run.status().workstreams}


def report(
    key: str, seq: int, state: str = "running", phase: str = "pilot", passed: tuple[str, ...] = ()
) -> WorkstreamReport:
    return WorkstreamReport(key=key, seq=seq, state=state, phase=phase, passed=list(passed))  # type: ignore[arg-type]


def started(run: Run) -> list[str]:
    keys = run.machine.take_starts()
    for key in keys:
        run.machine.workstream_started(key, run.now)
    return keys


def test_workstreams_start_in_the_phase_of_the_gate_and_each_after_its_dependency():
    run = Run(PROGRAM)
    assert lanes(run) == {"email": "waiting", "chat": "waiting", "voice": "waiting"}
    assert run.machine.take_starts() == []  # planning holds them
    run.do(Approve(gate="contract_signed", by=DANA))
    assert started(run) == ["email", "voice"]
    assert run.machine.take_starts() == []  # taken once
    chat = next(w for w in run.status().workstreams if w.key == "chat")
    assert chat.waiting == "waiting for email to pass pilot"

    run.machine.workstream_reported(
        report("email", 1, phase="hypercare", passed=("knowledge_transfer", "pilot")), run.now
    )
    assert started(run) == ["chat"]
    run.machine.workstream_reported(report("email", 1, phase="knowledge_transfer"), run.now)  # an old report: ignored
    assert next(w for w in run.status().workstreams if w.key == "email").phase == "hypercare"


def test_the_gate_passes_once_all_are_done_leaving_out_one_cancelled_alone():
    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    started(run)
    run.machine.workstream_reported(report("voice", 1, state="cancelled", phase="knowledge_transfer"), run.now)
    run.machine.workstream_reported(
        report("email", 1, phase="hypercare", passed=("knowledge_transfer", "pilot")), run.now
    )
    started(run)
    assert run.gate("all_live").progress == "0/2 workstreams done"  # voice left out
    run.machine.workstream_reported(report("email", 2, "completed", "hypercare", ("pilot", "hypercare")), run.now)
    assert run.status().phase == "transition"
    run.machine.workstream_reported(report("chat", 1, "completed", "hypercare", ("pilot", "hypercare")), run.now)
    run._collect()
    assert run.status().phase == "steady_state"
    for entry in run.audit:  # every row a program writes reads as its typed event, every field named
        event = event_of(SimpleNamespace(**entry.model_dump(exclude={"id", "signature"})))
        assert type(event) is EVENTS[entry.kind] and not set(entry.detail) - set(type(event).model_fields), entry
    assert [e.kind for e in run.audit if e.kind.startswith("workstream_")][-2:] == [
        "workstream_phase_passed",
        "workstream_completed",
    ]


def test_a_workstream_waiting_for_one_cancelled_is_blocked_and_the_program_escalates():
    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    started(run)
    run.machine.workstream_reported(report("email", 1, state="cancelled", phase="knowledge_transfer"), run.now)
    run._collect()
    status = run.status()
    chat = next(w for w in status.workstreams if w.key == "chat")
    assert (chat.state, chat.waiting) == ("blocked", "blocked: it waits for email, which was cancelled")
    assert status.health == "escalated"
    assert any(n.kind == "escalation" and "chat" in n.text.lower() for n in run.notices)
    assert run.machine.take_starts() == []


def test_cancelling_the_program_relays_to_the_running_and_cancels_the_waiting():
    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    started(run)
    run.do(Cancel(by=DANA, reason="deal off"))
    assert [r.update for r in run.machine.state.relays] == ["cancel"]
    assert lanes(run)["chat"] == "cancelled"


def link_run(signer: Signer) -> Machine:
    plan = workstream_plan(PROGRAM, "email")
    link = ProgramLink(program="acme", key="email", program_run="run-of-acme")
    return Machine.start(
        plan, "acme/email", START, trusted_keys=[signer.public_key], first_run_id="run-of-email", link=link
    )


def test_a_relayed_command_must_be_signed_for_the_program_not_for_the_workstream_or_another():
    signer = Signer(new_key_pair()[0])
    email = link_run(signer)
    pause = Pause(by=LI, reason="freeze", request_id="r-1")

    for transition, run in (("acme/email", "run-of-email"), ("other", "run-of-acme"), ("acme", "another-run")):
        forged = signer.sign(transition, pause.model_copy(update={"request_id": f"f-{transition}-{run}"}), run, START)
        email.apply_relayed(relayed("pause", forged), START)  # refused: audited, nothing changes
        assert email.state.state == "running", f"a pause signed for {transition}/{run} was taken"
        refused = [e for e in email.take_outbox().audit if e.kind == "signal_refused"]
        assert "not signed by a trusted key" in refused[-1].detail["reason"]

    email.apply_relayed(relayed("pause", signer.sign("acme", pause, "run-of-acme", START)), START)
    assert email.state.state == "paused"
    row = [e for e in email.take_outbox().audit if e.kind == "paused"][0]
    assert (row.detail["signed"]["transition"], row.detail["signed"]["run"]) == ("acme", "run-of-acme")


def amended(**changes: object) -> object:
    return PROGRAM.model_copy(update=changes)


def test_an_amendment_may_add_a_workstream_or_change_one_not_started_but_not_a_started_one():
    from models.commands import Amend
    from models.plan import ScopeItem, Workstream

    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    started(run)  # email and voice run; chat waits for email's pilot
    fax = ScopeItem(key="fax_support", name="Fax", monthly_volume=100, fte=1)
    added = amended(
        scope=[*PROGRAM.scope, fax],
        workstreams=[*PROGRAM.workstreams, Workstream(key="fax", name="Fax", scope=["fax_support"])],
    )
    status = run.do(Amend(plan=added, reason="fax moves too", by=LI))
    assert "workstream fax added" in status.amendments[-1].changes
    run.do(Approve(gate="amendment_1", by=DANA))
    assert started(run) == ["fax"]

    chat_later = [
        w.model_copy(update={"after": {"voice": "pilot"}}) if w.key == "chat" else w
        for w in run.machine.plan.workstreams
    ]
    run.do(
        Amend(plan=run.machine.plan.model_copy(update={"workstreams": chat_later}), reason="chat after voice", by=LI)
    )

    email_shorter = [
        w.model_copy(update={"phases": PROGRAM.workstream_phases[1:]}) if w.key == "email" else w
        for w in run.machine.plan.workstreams
    ]
    said = run.refused(
        Amend(plan=run.machine.plan.model_copy(update={"workstreams": email_shorter}), reason="skip", by=LI), "Behind"
    )
    assert "workstream 'email' has started" in said and "bpo amend" in said
    dropped = [w for w in run.machine.plan.workstreams if w.key != "voice"]
    scope = [s for s in run.machine.plan.scope if s.key != "voice_support"]
    said = run.refused(
        Amend(plan=run.machine.plan.model_copy(update={"workstreams": dropped, "scope": scope}), reason="drop", by=LI),
        "Behind",
    )
    assert "may not remove it" in said
