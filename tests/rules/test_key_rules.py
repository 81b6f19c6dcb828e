"""Trusted keys rotate by a command a trusted key signs; a rotated-out key is refused after."""

from __future__ import annotations

from models.commands import Pause, TrustKeys
from models.signing import Signer, fingerprint, new_key_pair
from tests.rules.sim import LI, PLAN, START, Run
from workflows.rules import Machine

OLD, NEW, STRANGER = (Signer(new_key_pair()[0]) for _ in range(3))


def keyed() -> Run:
    run = Run()
    run.machine = Machine.start(PLAN, "t-1", START, trusted_keys=[OLD.public_key], first_run_id="run-a")
    run._collect()
    return run


def test_a_rotated_out_key_is_refused_and_the_new_key_accepted():
    run = keyed()
    rotate = TrustKeys(add=[NEW.public_key], remove=[OLD.public_key], by=LI, request_id="k-1")
    assert "not signed by a trusted key" in run.refused(STRANGER.sign("t-1", rotate, "run-a", run.now), "NotSigned")
    status = run.do(OLD.sign("t-1", rotate, "run-a", run.now))
    assert status.trusted_keys == [fingerprint(NEW.public_key)]
    [row] = [e for e in run.audit if e.kind == "keys_rotated"]
    assert (row.detail["added"], row.detail["removed"]) == ([fingerprint(NEW.public_key)], [fingerprint(OLD.public_key)])
    assert row.signature
    pause = Pause(by=LI, reason="audit", request_id="p-1")
    assert "not signed by a trusted key" in run.refused(OLD.sign("t-1", pause, "run-a", run.now), "NotSigned")
    assert run.do(NEW.sign("t-1", pause, "run-a", run.now)).state == "paused"


def test_a_transition_may_not_end_up_trusting_no_key():
    run = keyed()
    alone = OLD.sign("t-1", TrustKeys(remove=[OLD.public_key], request_id="k-1"), "run-a", run.now)
    assert "may not end up trusting no key" in run.refused(alone, "NoKey")
    unknown = OLD.sign("t-1", TrustKeys(remove=[NEW.public_key], request_id="k-2"), "run-a", run.now)
    assert "does not trust the key" in run.refused(unknown, "BadInput")


def test_keys_are_not_added_to_a_transition_that_trusts_none():
    run = Run()
    assert "trusts no key" in run.refused(TrustKeys(add=[NEW.public_key], request_id="k-1"), "NoKey")
