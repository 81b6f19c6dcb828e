"""Signed commands bound to their run family and their time, and remembered however many follow."""

from __future__ import annotations

from datetime import timedelta

from models.commands import Command, Pause, Resume
from models.signing import Signer, new_key_pair
from tests.rules.sim import LI, PLAN, START, Run
from workflows.rules import Machine, Refused
from workflows.rules.replays import MAX_REMEMBERED, REMEMBER, WINDOW

SIGNER = Signer(new_key_pair()[0])


def signed_run(first_run: str = "run-a") -> Run:
    run = Run()
    run.machine = Machine.start(PLAN, "t-1", START, trusted_keys=[SIGNER.public_key], first_run_id=first_run)
    run._collect()
    return run


def sign(run: Run, command: Command, first_run: str = "run-a") -> Command:
    return SIGNER.sign("t-1", command, first_run, at=run.now)


def pause_and_resume(run: Run, n: int) -> None:
    for i in range(n):
        run.do(sign(run, Pause(by=LI, reason="steering", request_id=f"p-{i}")))
        run.do(sign(run, Resume(by=LI, request_id=f"r-{i}")))
        run.now += timedelta(seconds=30)


def test_a_signed_command_replayed_after_600_newer_commands_changes_nothing():
    run = signed_run()
    recorded = sign(run, Pause(by=LI, reason="audit", request_id="first-pause"))
    run.do(recorded)
    run.do(sign(run, Resume(by=LI, request_id="first-resume")))
    pause_and_resume(run, 300)  # 600 newer commands
    assert run.do(recorded).state == "running"  # answered as the repeat it is: nothing applied
    assert [e.kind for e in run.audit].count("paused") == 301


def test_a_signed_command_replayed_once_its_request_id_is_forgotten_is_refused(monkeypatch):
    from workflows.rules import replays

    monkeypatch.setattr(replays, "KEEP_NEWEST", 2)  # the newest are kept however old: forget past them
    run = signed_run()
    recorded = sign(run, Pause(by=LI, reason="audit", request_id="first-pause"))
    run.do(recorded)
    run.do(sign(run, Resume(by=LI, request_id="first-resume")))
    run.now += REMEMBER + timedelta(days=1)
    run.do(sign(run, Pause(by=LI, reason="later", request_id="later")))  # forgets the first ones
    run.do(sign(run, Resume(by=LI, request_id="later-resume")))
    assert "first-pause" not in run.machine.state.requests
    assert "cannot be told from a replay" in run.refused(recorded, "Replayed")


def test_request_ids_are_bounded_and_what_is_dropped_early_stays_refused():
    run = signed_run()
    pause_and_resume(run, MAX_REMEMBERED // 2 + 5)
    assert len(run.machine.state.requests) == MAX_REMEMBERED
    assert "cannot be told from a replay" in run.refused(
        SIGNER.sign("t-1", Pause(by=LI, reason="old", request_id="p-0"), "run-a", at=START), "Replayed"
    )


def test_a_signature_made_for_another_run_of_the_same_id_is_refused():
    run = signed_run("run-b")
    recorded = sign(run, Pause(by=LI, reason="audit", request_id="p-1"), first_run="run-a")
    assert "not signed by a trusted key" in run.refused(recorded, "NotSigned")
    run.do(sign(run, Pause(by=LI, reason="audit", request_id="p-1"), first_run="run-b"))


def test_a_command_signed_before_times_were_bound_is_refused_in_a_new_transition():
    run = signed_run()
    old_form = Pause(by=LI, reason="audit", request_id="p-1")
    old_form = old_form.model_copy(update={"signature": SIGNER.sign_bytes(_old_canonical(old_form))})
    assert "not signed by a trusted key" in run.refused(old_form, "NotSigned")


def test_an_update_signed_outside_the_window_is_refused_where_it_arrives():
    run = signed_run()
    stale = SIGNER.sign("t-1", Pause(by=LI, reason="audit", request_id="p-1"), "run-a", at=START - WINDOW * 2)
    run.machine.check(stale, run.now)  # as a signal: checked for a repeat only
    try:
        run.machine.check_arrival(stale, run.now)
    except Refused as refusal:
        assert refusal.kind == "Stale" and "within 10 minutes of its signature" in str(refusal)
    else:
        raise AssertionError("a stale update was taken")
    fresh = SIGNER.sign("t-1", Pause(by=LI, reason="audit", request_id="p-2"), "run-a", at=START - WINDOW / 2)
    run.machine.check_arrival(fresh, run.now)


def _old_canonical(command: Command) -> bytes:
    from models.signing import canonical_json

    fields = command.model_dump(mode="json", exclude={"signature", "signed_at"})
    return canonical_json({"transition": "t-1", "command": command.update, "fields": fields})


def test_a_signature_recorded_before_this_change_still_verifies_on_its_old_path():
    run = Run(patched=lambda change: change != "signatures-bound-2026-12")
    run.machine = Machine.start(
        PLAN, "t-1", START, run.machine._patched, trusted_keys=[SIGNER.public_key], first_run_id="run-a"
    )
    old_form = Pause(by=LI, reason="audit", request_id="p-1")
    old_form = old_form.model_copy(update={"signature": SIGNER.sign_bytes(_old_canonical(old_form))})
    assert run.do(old_form).state == "paused"


def test_the_newest_request_ids_are_remembered_however_old_so_a_late_retry_counts_once():
    from workflows.rules.replays import KEEP_NEWEST

    run = signed_run()
    run.do(sign(run, Pause(by=LI, reason="audit", request_id="first-pause")))
    run.now += REMEMBER * 6
    run.do(sign(run, Resume(by=LI, request_id="much-later")))
    assert "first-pause" in run.machine.state.requests and KEEP_NEWEST >= 500


def signal(run: Run, command: Command) -> None:
    """Process ``command`` as the workflow's signal handler does: applied, or refused and audited."""
    try:
        run.machine.apply(command, run.now)
    except Refused as refusal:
        run.machine.refused_signal(command.update, command, str(refusal), refusal.kind, run.now)
    run._collect()


def test_a_refused_signed_command_is_refused_again_once_it_would_pass_and_a_new_attempt_is_answered():
    run = signed_run()
    refused = sign(run, Resume(by=LI, request_id="early-resume"))
    signal(run, refused)  # the transition runs: not paused, refused and audited with its signature
    assert run.audit[-1].kind == "signal_refused" and run.audit[-1].signature
    run.do(sign(run, Pause(by=LI, reason="audit", request_id="p-1")))
    run.now += REMEMBER - timedelta(days=1)  # within the window, however long after
    assert "a refused command is never taken later from its record" in run.refused(refused, "RefusedBefore")
    signal(run, refused)
    assert run.status().state == "paused"
    assert run.do(sign(run, Resume(by=LI, request_id="second-attempt"))).state == "running"


def test_an_unsigned_or_forged_refusal_spoils_no_request_id():
    run = signed_run()
    forged = Resume(by=LI, request_id="someones-id")  # no signature: refused as not signed
    signal(run, forged)
    other = Signer(new_key_pair()[0]).sign("t-1", Resume(by=LI, request_id="someones-id"), "run-a", at=run.now)
    signal(run, other)
    assert run.machine.state.refused_requests == {}
    run.do(sign(run, Pause(by=LI, reason="audit", request_id="p-1")))
    assert run.do(sign(run, Resume(by=LI, request_id="someones-id"))).state == "running"


def test_a_refused_request_id_is_forgotten_with_the_window_and_its_era_stays_refused(monkeypatch):
    from workflows.rules import replays

    monkeypatch.setattr(replays, "KEEP_NEWEST", 1)  # the newest are kept however old
    run = signed_run()
    refused = sign(run, Resume(by=LI, request_id="early-resume"))
    signal(run, refused)
    run.now += REMEMBER + timedelta(days=1)
    run.do(sign(run, Pause(by=LI, reason="later", request_id="later")))
    signal(run, sign(run, Resume(by=LI, request_id="late-resume", reason="x")))  # applied: running again
    run.do(sign(run, Pause(by=LI, reason="again", request_id="again")))
    signal(run, sign(run, Pause(by=LI, reason="twice", request_id="refused-pause")))  # refused: forgets the old
    assert "early-resume" not in run.machine.state.refused_requests
    assert "cannot be told from a replay" in run.refused(refused, "Replayed")


def test_a_transition_that_replays_from_before_the_change_remembers_no_refusal():
    run = Run()
    run.machine = Machine.start(
        PLAN, "t-1", START, lambda change: change != "refusals-remembered-2026-12",
        trusted_keys=[SIGNER.public_key], first_run_id="run-a",
    )
    refused = sign(run, Resume(by=LI, request_id="early-resume"))
    signal(run, refused)
    assert run.machine.state.refused_requests == {}
