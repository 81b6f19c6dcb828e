"""A program's record of the relays it sends, and a workstream holding a relay until its program
confirms it, without a server (semantics: "Workstreams"; the workflow's side is in
tests/test_attack25d_relay_replay.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter

from models.commands import Approve, Pause, Resume
from models.messages import StartTransition
from models.plan_loader import load_plan
from models.program import MAX_RELAYS_KEPT, RELAYS_KEPT, ProgramLink, RelayAsk, relay_key, relayed
from models.signing import Signer, new_key_pair
from models.workstreams import workstream_plan
from tests.rules.sim import DANA, LI, START, Run
from workflows.rules import Machine, RefusalKind, Refused
from workflows.rules.program import MAX_RELAYS_WAITING, confirms, record_relay, relay_arrived, relay_decided
from workflows.rules.versions import RELAY_CONFIRMED, RELAY_REMEMBERED, every_change

PROGRAM = load_plan(Path(__file__).resolve().parents[2] / "examples" / "program-plan.yaml", env={}).plan


def program_run(patched=lambda change: True) -> Run:
    run = Run(PROGRAM, patched=patched)
    run.machine.state.first_run_id = "run-of-t-1"
    run.do(Approve(gate="contract_signed", by=DANA))
    for key in run.machine.take_starts():  # email and voice; chat waits for email's pilot
        run.machine.workstream_started(key, run.now)
    return run


def ask(key: str, workstream: str = "t-1/email", run: str | None = "run-of-t-1") -> RelayAsk:
    return RelayAsk(program="t-1", program_run=run, workstream=workstream, key=key)


def test_a_program_confirms_a_relay_to_the_workstreams_it_went_to_and_no_other():
    run = program_run()
    run.do(Pause(by=LI, reason="year-end freeze", request_id="pause-1"))
    key = relay_key(run.machine.state.relays[0])
    assert key == "pause:pause-1"

    assert confirms(run.machine, ask(key)).confirmed
    assert confirms(run.machine, ask(key, "t-1/voice")).confirmed
    chat = confirms(run.machine, ask(key, "t-1/chat"))  # started after: never sent there
    assert not chat.confirmed and "not to this one" in (chat.reason or "")
    unknown = confirms(run.machine, ask("change_roster:grant-1"))
    assert not unknown.confirmed and "no record" in (unknown.reason or "")
    other_family = confirms(run.machine, ask(key, run="run-of-another-program"))
    assert not other_family.confirmed


def test_a_program_that_ran_before_the_change_keeps_no_record_of_its_relays():
    run = program_run(patched=lambda change: change != RELAY_CONFIRMED)
    run.do(Pause(by=LI, reason="year-end freeze", request_id="pause-1"))
    assert [r.update for r in run.machine.state.relays] == ["pause"]  # sent as before
    assert run.machine.state.relays_sent == []


def test_a_program_forgets_its_relays_after_thirty_days_or_past_the_newest_five_hundred():
    run = program_run()
    m = run.machine
    record_relay(m, relayed("pause", Pause(by=LI, reason="old", request_id="old"), ["t-1/email"]), START)
    later = START + RELAYS_KEPT + timedelta(minutes=1)
    record_relay(m, relayed("pause", Pause(by=LI, reason="new", request_id="new"), ["t-1/email"]), later)
    assert [r.key for r in m.state.relays_sent] == ["pause:new"]  # asked about now, "old" is refused

    for i in range(MAX_RELAYS_KEPT + 5):
        record_relay(m, relayed("pause", Pause(by=LI, reason="x", request_id=f"r-{i}"), ["t-1/email"]), later)
    assert (
        len(m.state.relays_sent) == MAX_RELAYS_KEPT and m.state.relays_sent[-1].key == f"pause:r-{MAX_RELAYS_KEPT + 4}"
    )


def workstream(signer: Signer) -> Machine:
    link = ProgramLink(program="acme", key="email", program_run="run-of-acme")
    plan = workstream_plan(PROGRAM, "email")
    return Machine.start(
        plan, "acme/email", START, trusted_keys=[signer.public_key], first_run_id="run-of-email", link=link
    )


def test_a_workstream_holds_a_relay_once_until_its_program_confirms_it_and_drops_a_repeat():
    signer = Signer(new_key_pair()[0])
    email = workstream(signer)
    relay = relayed("pause", signer.sign("acme", Pause(by=LI, reason="freeze", request_id="r-1"), "run-of-acme", START))

    relay_arrived(email, relay)
    relay_arrived(email, relay)  # the same again while it waits: held once
    assert email.state.relays_in == [relay] and email.state.state == "running"  # not taken yet

    email.state.relays_in = []  # confirmed: the workflow takes it
    email.apply_relayed(relay, START)
    assert email.state.state == "paused"
    with pytest.raises(Refused) as repeat:  # a repeat of one taken: refused, nothing to ask
        relay_arrived(email, relay)
    assert repeat.value.kind == RefusalKind.REPLAYED and "repeat" in str(repeat.value)
    assert email.state.relays_in == []


def test_a_workstream_never_takes_again_a_relay_it_left_or_refused():
    signer = Signer(new_key_pair()[0])
    email = workstream(signer)

    def signed(command, at=START):
        return relayed(command.update, signer.sign("acme", command, "run-of-acme", at))

    left = signed(Resume(by=LI, reason="lifted", request_id="resume-1"))  # not paused by its program
    email.apply_relayed(left, START)
    assert email.state.state == "running"
    forged = relayed("pause", Pause(by=LI, reason="freeze", request_id="pause-9"))
    email.apply_relayed(forged, START)  # refused (not signed), as the workflow does once confirmed
    email.apply_relayed(signed(Pause(by=LI, reason="freeze", request_id="pause-1")), START)
    assert email.state.state == "paused" and email.state.program_paused

    # The next run, as continue-as-new carries the state: the relays decided on come with it.
    carried = StartTransition(id="acme/email", plan=email.plan, state=email.state)
    payload = pydantic_data_converter.payload_converter.to_payloads([carried])[0]
    start = pydantic_data_converter.payload_converter.from_payload(payload, StartTransition)
    assert start.state is not None
    email = Machine(start.plan, start.state, every_change)

    for copy in (left, forged):  # sent again while it would now apply: refused as a repeat
        with pytest.raises(Refused) as repeat:
            relay_arrived(email, copy)
        assert repeat.value.kind == RefusalKind.REPLAYED
    assert email.state.relays_in == [] and email.state.state == "paused"


def test_a_workstream_remembers_the_relays_it_decided_on_as_long_as_its_program_keeps_them():
    signer = Signer(new_key_pair()[0])
    email = workstream(signer)
    old = relayed("resume", signer.sign("acme", Resume(by=LI, reason="x", request_id="old"), "run-of-acme", START))
    relay_decided(email, old, START)
    for i in range(MAX_RELAYS_KEPT):
        relay_decided(email, relayed("resume", Resume(by=LI, reason="x", request_id=f"r-{i}")), START)
    assert relay_key(old) in email.state.relays_decided  # more than its program keeps, within 30 days
    later = START + RELAYS_KEPT + timedelta(minutes=1)
    relay_decided(email, relayed("resume", Resume(by=LI, reason="x", request_id="new")), later)
    assert list(email.state.relays_decided) == ["resume:new"]  # its program forgot the others first

    unchanged = Machine.start(
        workstream_plan(PROGRAM, "email"),
        "acme/email",
        START,
        trusted_keys=[signer.public_key],
        first_run_id="run-of-email",
        link=ProgramLink(program="acme", key="email", program_run="run-of-acme"),
        patched=lambda change: change != RELAY_REMEMBERED,
    )
    unchanged.apply_relayed(old, START)  # left as it is, and not remembered: as before the change
    assert unchanged.state.relays_decided == {}


def test_a_workstream_refuses_an_unsigned_relay_as_it_comes_and_a_relay_it_never_takes():
    signer = Signer(new_key_pair()[0])
    email = workstream(signer)
    for i in range(MAX_RELAYS_WAITING + 5):  # unsigned: refused, never held
        with pytest.raises(Refused) as unsigned:
            relay_arrived(email, relayed("pause", Pause(by=LI, reason="x", request_id=f"r-{i}")))
        assert unsigned.value.kind == RefusalKind.NOT_SIGNED
    assert email.state.relays_in == []
    genuine = relayed("pause", signer.sign("acme", Pause(by=LI, reason="x", request_id="p-1"), "run-of-acme", START))
    relay_arrived(email, genuine)
    assert email.state.relays_in == [genuine]
    other = Signer(new_key_pair()[0])  # a key this workstream does not trust
    untrusted = other.sign("acme", Pause(by=LI, reason="x", request_id="p-2"), "run-of-acme", START)
    with pytest.raises(Refused):
        relay_arrived(email, relayed("pause", untrusted))
    # The program's own command, signed before this workstream started: in the plan it started with.
    older = signer.sign("acme", Pause(by=LI, reason="x", request_id="p-0"), "run-of-acme", START - timedelta(hours=1))
    with pytest.raises(Refused) as before:
        relay_arrived(email, relayed("pause", older))
    assert before.value.kind == RefusalKind.REFUSED_BEFORE
    assert email.state.relays_in == [genuine]
    with pytest.raises(Refused) as approve:
        relay_arrived(email, relayed("approve", Approve(gate="contract_signed", by=DANA)))
    assert approve.value.kind == RefusalKind.UNKNOWN_COMMAND
