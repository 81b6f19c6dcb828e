"""Attacks on programs and their workstreams through what a plan author, an approver or an
operator can send (issue #27), without a server; each test fails while its finding stands
(semantics: "Workstreams"; trust.md)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest

from bpo.render import status_text
from models.commands import Amend, Approve, ChangeRoster, Pause, Resume
from models.plan import Person
from models.plan_loader import PlanError, parse_plan
from models.program import ProgramLink, relayed
from models.signing import Signer, new_key_pair
from models.workstreams import workstream_plan
from tests.rules.sim import DANA, LI, START, Run
from tests.rules.test_program_rules import PROGRAM, lanes, report, started
from workflows.rules import Machine, Refused

TEXT = (Path(__file__).resolve().parents[2] / "examples" / "program-plan.yaml").read_text()
DONE = ("knowledge_transfer", "pilot", "hypercare")


def program_text(old: str, new: str) -> str:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1)


def in_transition() -> Run:
    """The example program past planning, email and voice started."""
    run = Run(PROGRAM)
    run.do(Approve(gate="contract_signed", by=DANA))
    assert started(run) == ["email", "voice"]
    return run


# --- amendments of a program whose workstreams run ------------------------------------------


def test_an_amendment_may_not_change_the_phases_of_a_started_workstream():
    """A sponsor amends the running program: the workstreams' phases gain `golive`, and the
    gate waits for it. The running workstreams never get the new phases (nothing sends them), so
    all three complete and the program's gate waits for ever. semantics: an amendment may change
    a workstream "that has not started" only."""
    run = in_transition()
    golive = (
        "key: golive\n    name: Go live\n    due: 5d\n    gates:\n"
        "      - {key: golive_ok, kind: approval, approvers: {roles: [executive_sponsor]}}\n"
        "  - key: hypercare\n    name: Hypercare"
    )
    new = parse_plan(
        program_text("key: hypercare\n    name: Hypercare", golive).replace("passed: all", "passed: golive"), env={}
    ).plan
    try:
        run.do(Amend(plan=new, by=LI, reason="a go-live step for every workstream"))
        run.do(Approve(gate="amendment_1", by=DANA))
    except Refused as refusal:
        assert "started" in str(refusal)  # refused, saying which workstream runs already: fine
        return
    for key in ("email", "voice"):
        run.machine.workstream_reported(report(key, 5, "completed", "hypercare", DONE), run.now)
    started(run)
    run.machine.workstream_reported(report("chat", 5, "completed", "hypercare", DONE), run.now)
    assert set(lanes(run).values()) == {"completed"}
    assert run.status().phase == "steady_state", f"every workstream done, yet {run.gate('all_live').progress}"


def test_an_amendment_may_not_remove_a_started_workstream():
    """A sponsor amends the running program to drop voice, already running: accepted. Voice runs
    on as a child no lane shows, yet its health still sets the program's, and relays still reach
    it."""
    run = in_transition()
    new = parse_plan(
        program_text("  - key: voice\n    name: Inbound voice\n    scope: [voice_support]\n", "").replace(
            "  - key: voice_support\n    name: Inbound voice\n    monthly_volume: 30000\n    fte: 31\n", ""
        ),
        env={},
    ).plan
    try:
        run.do(Amend(plan=new, by=LI, reason="voice stays in house"))
        run.do(Approve(gate="amendment_1", by=DANA))
    except Refused:
        return  # refused: a started workstream is cancelled, not amended away
    escalated = report("voice", 2, phase="pilot", passed=("knowledge_transfer",)).model_copy(
        update={"health": "escalated"}
    )
    run.machine.workstream_reported(escalated, run.now)
    status = run.status()
    shown = {w.key for w in status.workstreams}
    assert status.health == "on_track" or "voice" in shown, (
        f"the program is {status.health} because of a workstream its status no longer lists ({sorted(shown)})"
    )


def test_a_workstream_may_not_be_amended_into_a_program():
    """An operator amends a workstream (`bpo amend PROGRAM/email`) with a plan that has
    workstreams of its own: accepted. A workstream never starts workstreams (its workflow only
    reports), so the new `workstreams` gate can never pass."""
    plan = workstream_plan(PROGRAM, "email")
    email = Machine.start(plan, "acme/email", START, link=ProgramLink(program="acme", key="email", program_run="r"))
    nested = parse_plan(
        program_text("  - key: chat\n    name: Live chat\n    scope: [chat_support]\n    after: {email: pilot}\n", "")
        .replace("  - key: voice\n    name: Inbound voice\n    scope: [voice_support]\n", "")
        .replace("    scope: [email_support]\n", "    scope: [email_support, chat_support, voice_support]\n"),
        env={},
    ).plan
    (stream,) = nested.workstreams
    new = plan.model_copy(
        update={
            "workstreams": [stream.model_copy(update={"key": "email_tier1", "scope": ["email_support"]})],
            "workstream_phases": nested.workstream_phases,
            "phases": [*plan.phases, nested.phases[1]],
        }
    )
    amend = Amend(plan=new, by=LI, reason="split email further")
    with pytest.raises(Refused, match="workstream"):
        email.check(amend, START)


# --- what validation lets through -----------------------------------------------------------


def test_a_gate_of_a_workstream_phase_may_not_be_named_like_an_amendment():
    """A plan author names a workstream's gate `amendment_1`: the plan validates (a program phase's
    gate so named is refused), and the workstream can never pass it, since an approval of
    `amendment_1` is read as a decision on an amendment."""
    with pytest.raises(PlanError, match="amendment_"):
        parse_plan(program_text("key: hypercare_exit", "key: amendment_1"), env={})


def test_while_it_validates_a_workstream_gate_named_like_an_amendment_cannot_be_approved():
    """What the plan above does once it runs: the sponsor's approval of hypercare's gate is
    refused ("no amendment_1 has been proposed"), so email never completes."""
    try:
        plan = parse_plan(program_text("key: hypercare_exit", "key: amendment_1"), env={}).plan
    except PlanError:
        return  # refused at validation: nothing to wedge
    run = Run(workstream_plan(plan, "email"))
    run.tick("process_maps", "eve@acme.example", "email_support")
    run.read("W1", csat=91, aht=6)
    assert run.read("W2", csat=91, aht=6).phase == "hypercare"
    assert run.do(Approve(gate="amendment_1", by=DANA)).state == "completed"


def test_a_workstreams_own_notifications_keep_to_the_boundary():
    """A plan author gives a workstream notifications of its own naming a mail server of their
    own: the plan validates, though the same channel on the program is refused (trust.md, "The
    boundary"); the worker then switches the channel off at delivery, which nobody saw coming."""
    own = "{kind: email, smtp: 'smtp://mail.attacker.example:25', sender: 'x@attacker.example'}"
    with pytest.raises(PlanError, match="mail server of its own"):
        parse_plan(program_text("notifications:\n  - kind: log\n", f"notifications:\n  - {own}\n"), env={})
    with pytest.raises(PlanError, match="mail server of its own"):
        parse_plan(
            program_text(
                "    scope: [email_support]\n", f"    scope: [email_support]\n    notifications:\n      - {own}\n"
            ),
            env={},
        )


def test_a_workstreams_own_escalation_names_roles_the_plan_knows():
    """A workstream's own ladder naming a role nobody has validates (the program's is refused):
    its escalations reach no one."""
    with pytest.raises(PlanError, match="unknown role"):
        parse_plan(
            program_text(
                "    scope: [email_support]\n",
                "    scope: [email_support]\n    escalation:\n      - {after: 2d, notify: [sponsr]}\n",
            ),
            env={},
        )


# --- workstreams that wait --------------------------------------------------------------------


def test_a_workstream_whose_after_held_is_not_blocked_when_its_dependency_ends_later():
    """Email passes its pilot while the program is paused (chat may not start then), and is then
    cancelled on its own. Chat's `after: {email: pilot}` held, yet chat is blocked for good ("it
    waits for email, which was cancelled") and the program escalates."""
    run = in_transition()
    run.do(Pause(by=LI, reason="client freeze"))
    run.machine.workstream_reported(report("email", 1, phase="hypercare", passed=DONE[:2]), run.now)
    run.machine.workstream_reported(report("email", 2, state="cancelled", phase="hypercare", passed=DONE[:2]), run.now)
    run.do(Resume(by=LI, reason="freeze over"))
    assert started(run) == ["chat"], run.status().workstreams[1].waiting


# --- seeing a program -----------------------------------------------------------------------


def test_bpo_status_of_a_program_lists_its_workstreams_and_what_they_wait_for():
    """docs/semantics.md: "`bpo status PROGRAM` says what it waits for ("waiting for email to pass
    pilot")". The text `bpo status` prints lists no workstream at all."""
    run = in_transition()
    text = status_text(run.status(), run.now)
    assert "waiting for email to pass pilot" in text, text
    for key in ("email", "chat", "voice"):
        assert f"t-1/{key}" in text or f"\n  {key}" in text, text


# --- someone who can reach Temporal's port (lower priority) -----------------------------------


def test_a_program_command_signed_before_a_workstream_started_is_not_replayed_into_it():
    """The program added Mallory as a sponsor and took her off again, both signed and audited;
    chat started later, without her. Whoever reaches Temporal's port and has read the program's
    history sends the old roster change to chat as a `program_relay`: chat takes it (relays are
    checked for a repeated request id only), and Mallory may sign chat's gates off. trust.md: "a
    replay is refused however many commands came between"."""
    signer = Signer(new_key_pair()[0])
    mallory = Person(id="mallory@acme.example", name="Mallory", org="client", roles=["executive_sponsor"])
    add = signer.sign("acme", ChangeRoster(add=[mallory], by=DANA, request_id="r-add"), "run-of-acme", START)
    later = START + timedelta(days=20)
    chat = Machine.start(
        workstream_plan(PROGRAM, "chat"),
        "acme/chat",
        later,
        trusted_keys=[signer.public_key],
        first_run_id="run-of-chat",
        link=ProgramLink(program="acme", key="chat", program_run="run-of-acme"),
    )
    with contextlib.suppress(Refused):
        chat.apply_relayed(relayed("change_roster", add), later + timedelta(hours=1))
    assert mallory.id not in [p.id for p in chat.state.people], "a program's old command was replayed into chat"


def test_a_refusal_inside_workstreams_names_its_place_and_line():
    """A plan author writes a workstream key of 41 characters: the refusal reads "plan:10:
    [2].key: is too long", naming neither `workstreams` nor the line (10 is the plan's name),
    since the loader drops every part of a location spelled like a gate kind, and `workstreams`
    is one."""
    text = program_text("  - key: voice\n", "  - key: " + "v" * 41 + "\n")
    line = text.splitlines().index("  - key: " + "v" * 41) + 1
    with pytest.raises(PlanError) as caught:
        parse_plan(text, env={})
    assert f"plan:{line}: workstreams[2].key" in str(caught.value), str(caught.value)


def test_a_workstreams_gate_naming_a_workstream_twice_is_refused():
    """`workstreams: [email, email]` validates, and the gate counts email twice ("0/2
    workstreams done" for one workstream)."""
    with pytest.raises(PlanError, match="twice"):
        parse_plan(program_text("passed: all", "workstreams: [email, email]\n        passed: all"), env={})


def test_a_workstream_paused_on_its_own_stays_paused_when_the_program_resumes():
    """The provider pauses email alone (a system outage). Later the program is paused for a
    client freeze (the relay to email is refused, already paused: audited on email, told to
    nobody) and resumed: the resume relayed to email resumes it, outage or not, and its own pause
    reason is gone."""
    email = Machine.start(
        workstream_plan(PROGRAM, "email"), "acme/email", START, link=ProgramLink(program="acme", key="email")
    )
    own = Pause(by="raj@northstar.example", reason="provider system outage")
    email.check(own, START)
    email.apply(own, START)
    with contextlib.suppress(Refused):
        email.apply_relayed(relayed("pause", Pause(by=LI, reason="client freeze", request_id="p-1")), START)
    email.apply_relayed(relayed("resume", Resume(by=LI, reason="freeze over", request_id="p-2")), START)
    assert (email.state.state, email.state.pause_reason) == ("paused", "provider system outage")


def test_a_workstreams_waves_count_its_own_volume_and_fte():
    """semantics: "Ramp waves inside a workstream count its own scope: wave 2 of 3: 50% of 42,000
    contacts a month, 12 of 24 FTE". Email's hypercare in waves says only "50% of the volume"."""
    plan = parse_plan(
        program_text(
            "    on_reject: {back_to: pilot}\n", "    on_reject: {back_to: pilot}\n    waves: [25, 50, 100]\n"
        ),
        env={},
    ).plan
    run = Run(workstream_plan(plan, "email"))
    run.tick("process_maps", "eve@acme.example", "email_support")
    run.read("W1", csat=91, aht=6)
    run.read("W2", csat=91, aht=6)
    status = run.approve("hypercare_exit", DANA)
    said = " ".join([n.text for n in run.sent("wave_started")] + [status_text(status, run.now)])
    assert "42,000" in said and "12 of 24 FTE" in said, said


def test_a_program_whose_workstreams_were_all_cancelled_does_not_go_live_on_none():
    """Each workstream is cancelled on its own (none waits for another). "Every workstream live"
    then waits for nobody and passes: the program enters steady state, on track, governing a
    contract where nothing went live, and nobody is told."""
    run = Run(parse_plan(program_text("    after: {email: pilot}\n", ""), env={}).plan)
    run.do(Approve(gate="contract_signed", by=DANA))
    assert started(run) == ["email", "chat", "voice"]
    for key in ("email", "chat", "voice"):
        run.machine.workstream_reported(report(key, 1, state="cancelled", phase="knowledge_transfer"), run.now)
    status = run.status()
    assert status.phase == "transition", f"{run.audit[-3].kind}: the program went live on no workstream"


def test_a_workstream_may_not_be_amended_out_of_a_phase_its_program_waits_for():
    """An operator amends email alone (`bpo amend PROGRAM/email`) to skip its pilot; the sponsor
    approves. Chat waits for email to pass pilot, and never will: chat never starts, is never
    blocked, and the program's gate never passes; nothing tells anyone."""
    plan = workstream_plan(PROGRAM, "email")
    email = Machine.start(plan, "acme/email", START, link=ProgramLink(program="acme", key="email", program_run="r"))
    skip = plan.model_copy(update={"phases": [plan.phases[0], plan.phases[2].model_copy(update={"on_reject": None})]})
    with pytest.raises(Refused, match="pilot"):
        email.check(Amend(plan=skip, by=LI, reason="skip the pilot"), START)


def test_an_amendment_that_drops_the_dependency_of_a_blocked_workstream_starts_it():
    """Email is cancelled on its own; chat, waiting for email's pilot, is blocked and the program
    escalates "so that someone amends the plan or waives the gate" (docs/semantics.md). The
    sponsor amends the plan: chat waits for nobody now. Chat stays blocked for good: the only way
    on is to waive the gate, and chat never runs."""
    run = in_transition()
    run.machine.workstream_reported(report("email", 1, state="cancelled", phase="knowledge_transfer"), run.now)
    assert lanes(run)["chat"] == "blocked"
    new = parse_plan(program_text("    after: {email: pilot}\n", ""), env={}).plan
    run.do(Amend(plan=new, by=LI, reason="chat goes ahead without email"))
    run.do(Approve(gate="amendment_1", by=DANA))
    assert started(run) == ["chat"], run.status().workstreams[1].waiting


def test_the_programs_report_and_calendar_carry_its_workstreams():
    """semantics: "the report draws the lanes; the calendar feed carries every workstream's
    dues". `bpo report PROGRAM` and `bpo calendar PROGRAM` name no workstream."""
    from bpo.calendar import render_calendar
    from bpo.report import render_report

    run = in_transition()
    due = run.now + timedelta(days=21)
    run.machine.workstream_reported(
        report("email", 1, phase="knowledge_transfer").model_copy(update={"next_due": due}), run.now
    )
    status = run.status()
    assert "Tier-1 email support" in render_report(run.machine.plan, status, [], run.now)
    # knowledge transfer is due in whole days: an all-day event on its day
    assert f"DTSTART;VALUE=DATE:{due:%Y%m%d}" in render_calendar(run.machine.plan, status, run.now)
