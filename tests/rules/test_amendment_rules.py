"""Changing a running transition: a new version proposed, approved by a sponsor, and the
transition running on it from its current point; what is behind stays as it was."""

from __future__ import annotations

import pytest
import yaml

from models.commands import Amend, Approve, Reject
from models.plan import Plan
from models.plan_loader import PlanError, parse_plan
from tests.rules.sim import DANA, EVE, LI, REFERENCE_PLAN, Run
from workflows.rules import versions

TEXT = REFERENCE_PLAN.read_text()
EXTRA_GATE = """      - key: kickoff_held
        kind: approval
        approvers: {roles: [point_of_contact], rule: all}
        evidence: required
      - key: site_visit
        kind: approval
        approvers: {roles: [executive_sponsor]}
"""


def version(*edits: tuple[str, str]):
    text = TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_plan(text, env={}).plan


def test_an_amendment_takes_effect_only_when_a_sponsor_approves_it():
    run = Run()
    ahead = version(
        ("    due: 10d\n", "    due: 20d\n"),
        (
            "      - key: kickoff_held\n        kind: approval\n        approvers: {roles: [point_of_contact], rule: all}\n        evidence: required\n",
            EXTRA_GATE,
        ),
    )
    run.do(Amend(plan=ahead, reason="client asked for a site visit", by=LI))
    (proposed,) = run.status().amendments
    assert proposed.status == "proposed" and "phase mobilization: due 10d -> 20d" in proposed.changes
    assert "phase mobilization: gate site_visit added" in proposed.changes
    run.refused(Approve(gate="amendment_1", by=LI), "NotAllowed")
    run.refused(Approve(gate="amendment_2", by=DANA), "UnknownGate")
    run.pass_planning()
    assert [g.key for g in run.status().gates] == ["team_assigned", "kickoff_held"], "not before the approval"
    run.do(Approve(gate="amendment_1", by=DANA))
    status = run.status()
    assert [g.key for g in status.gates] == ["team_assigned", "kickoff_held", "site_visit"]
    assert status.phase_due_at == status.phase_started_at + (ahead.phases[1].due or 0)  # type: ignore[operator]
    assert run.machine.plan == ahead and status.amendments[0].status == "approved"
    run.refused(Approve(gate="amendment_1", by=DANA), "GateNotOpen")


def test_an_amendment_may_not_change_what_is_behind_nor_drop_the_last_sponsor():
    run = Run()
    run.pass_planning()
    run.refused(Amend(plan=version(("    due: 14d\n", "    due: 21d\n")), reason="x", by=LI), "Behind")
    plan = run.machine.plan
    no_sponsor = plan.model_copy(update={"people": [p for p in plan.people if "executive_sponsor" not in p.roles]})
    run.refused(Amend(plan=no_sponsor, reason="x", by=LI), "NoSponsor")
    run.refused(Amend(plan=run.machine.plan, reason="x", by=LI), "NoChange")
    run.refused(Amend(plan=version(("    due: 10d\n", "    due: 20d\n")), reason="x", by=EVE), "NotAllowed")


def test_a_rejected_amendment_changes_nothing():
    run = Run()
    run.do(Amend(plan=version(("    due: 10d\n", "    due: 20d\n")), reason="more time", by=LI))
    run.do(Reject(gate="amendment_1", by=DANA, reason="keep the dates"))
    assert run.status().amendments[0].status == "rejected" and run.machine.plan.phases[1].due.days == 10


def test_an_amendment_may_not_change_the_client_nor_give_the_plan_a_mail_server_of_its_own():
    # The connections a plan may use are open to its client, and its mail carries sign-in links:
    # an amendment sent straight to the workflow, past `bpo amend`'s checks, is refused all the same.
    run = Run()
    other = version(("client: ACME Corp", "client: Globex"))
    assert "may not change client ('ACME Corp' to 'Globex')" in run.refused(
        Amend(plan=other, reason="x", by=LI), "BadPlan"
    )
    plan = run.machine.plan
    own = [
        c.model_copy(update={"smtp": "smtp://mail.attacker.example"}) if c.kind == "email" else c
        for c in plan.notifications
    ]
    says = run.refused(Amend(plan=plan.model_copy(update={"notifications": own}), reason="x", by=LI), "BadPlan")
    assert "a plan never names a mail server of its own" in says and run.status().amendments == []


def test_before_the_boundary_a_proposal_was_not_asked_about_its_client():
    run = Run(patched=lambda change: False)  # a history recorded before the change replays as it ran
    run.do(
        Amend(
            plan=version(("client: ACME Corp", "client: Globex"), ("    due: 10d\n", "    due: 20d\n")),
            reason="x",
            by=LI,
        )
    )
    assert [a.status for a in run.status().amendments] == ["proposed"]


def test_an_amendment_that_mends_a_switched_off_feed_is_a_change_the_sponsor_is_shown():
    # docs/feeds.md's fix for a feed the boundary switched off: amend the plan to name a connection.
    from models.feeds import HttpFeed

    run = Run()
    plan = run.machine.plan
    mended = plan.model_copy(
        update={"feeds": [HttpFeed(name="cc", kind="json", connection="acme-cc")], "provider": "Other BPO"}
    )
    run.do(Amend(plan=mended, reason="the feed through the deployment's connection", by=LI))
    assert run.status().amendments[0].changes == ["provider changed", "feeds changed"]


ADDED = (
    "      - key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}\n",
    "      - key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}\n"
    "      - key: NAME\n        kind: approval\n        approvers: {roles: [program_manager]}\n",
)


def unchecked(*edits: tuple[str, str]) -> Plan:
    """A plan as a signal or an old `bpo start` could carry it: the models' checks only."""
    text = TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return Plan.model_validate(yaml.safe_load(text))


def test_an_amendment_may_not_add_a_gate_named_like_an_amendment():
    run = Run()
    said = run.refused(
        Amend(plan=unchecked((ADDED[0], ADDED[1].replace("NAME", "amendment_1"))), reason="x", by=LI), "BadPlan"
    )
    assert "gate key 'amendment_1' starts with 'amendment_'" in said
    run.refused(
        Amend(plan=unchecked((ADDED[0], ADDED[1].replace("NAME", "amendment_review"))), reason="x", by=LI), "BadPlan"
    )


def test_a_transition_begun_before_the_names_were_kept_still_takes_such_an_amendment_as_it_did():
    run = Run(patched=lambda change: change != versions.AMENDMENT_NAMES_KEPT)
    run.do(Amend(plan=unchecked((ADDED[0], ADDED[1].replace("NAME", "amendment_1"))), reason="x", by=LI))
    assert [a.status for a in run.status().amendments] == ["proposed"]


def test_a_transition_begun_on_a_plan_with_an_amendment_review_gate_can_still_be_amended():
    with_review = unchecked((ADDED[0], ADDED[1].replace("NAME", "amendment_review")))
    run = Run(with_review)
    run.do(Approve(gate="amendment_review", by=LI))
    later = with_review.model_copy(update={"name": with_review.name + " (v2)"})
    run.do(Amend(plan=later, reason="a new name", by=LI))
    assert [a.status for a in run.status().amendments] == ["proposed"]


def test_bpo_amend_refuses_only_the_reserved_keys_the_running_plan_does_not_have():
    text = TEXT.replace(ADDED[0], ADDED[1].replace("NAME", "amendment_review"), 1)
    with pytest.raises(PlanError) as refused:
        parse_plan(text, env={})
    assert "gate key 'amendment_review' starts with 'amendment_'" in str(refused.value)
    assert parse_plan(text, env={}, kept={"amendment_review"}).plan.phases[0].gate("amendment_review")
