"""A scorecard's scores are where a person reads them: the report's decision rows and the gate's
page name who scored what (and for whom), and a refusal's hint names `bpo score`. Driven by the
rules, no server."""

from __future__ import annotations

from datetime import timedelta

from bpo.report import render_report
from bpo.web.deps import templates
from bpo.web.transition_view import sign_offs
from models.audit_events import events_of
from models.commands import Approve, Delegate, Score
from tests.rules.sim import DANA, LI, RAJ, Run
from tests.rules.test_scorecard_rules import G, card
from tests.test_report_templates import Page, records
from workflows.rules.refusals import RefusalKind

EVIDENCED = ["{key: quality, weight: 1}", "{key: tooling, weight: 1, evidence: required}"]


def a_scored_run() -> Run:
    run = Run(card(EVIDENCED, "threshold: 3"))
    run.do(Delegate(by=LI, person=LI, to=RAJ, until=(run.now + timedelta(days=30)).date()))
    run.do(Score(gate=G, by=RAJ, scores={"quality": 4, "tooling": 3.5}, evidence={"tooling": "DOC-7"}, note="ok"))
    run.do(Score(gate=G, by=RAJ, scores={"quality": 5, "tooling": 2}, evidence={"tooling": "DOC-8"}))
    return run


def test_the_report_says_who_scored_what_and_for_whom():
    run = a_scored_run()
    text = Page(render_report(run.machine.plan, run.status(), records(run), run.now)).text
    assert "quality 4, tooling 3.5; evidence tooling: DOC-7; ok" in text
    assert f"quality 5, tooling 2; evidence tooling: DOC-8; for {LI}" in text


def test_the_gate_page_lists_each_scoring_and_never_says_no_sign_offs_once_scored():
    run = a_scored_run()
    events = [e for e in events_of(records(run)) if e.gate == G]
    listed = sign_offs(events, {RAJ: "Raj Patel", LI: "Li Chen"}, {})
    status = run.status()
    gate = next(g for g in status.gates if g.key == G)
    spec = run.machine.plan.phases[0].gate(G)
    g = {"status": gate, "name": G, "awaited": [], "spec": spec, "needs": "", "signoffs": listed, "roles": []}
    html = templates.env.get_template("gate.html").render(t={"status": status}, g=g, allowed=[], me=None)
    text = Page(html).text
    assert "No sign-offs yet" not in text and "No scores yet" not in text
    assert "scored by Raj Patel: quality 4, tooling 3.5; evidence tooling: DOC-7" in " ".join(text.split())
    assert "quality 5, tooling 2; evidence tooling: DOC-8; for Li Chen" in text
    empty = {**g, "signoffs": []}
    assert (
        "No scores yet"
        in Page(templates.env.get_template("gate.html").render(t={"status": status}, g=empty, allowed=[], me=None)).text
    )


def test_a_refusal_on_a_scorecard_hints_at_bpo_score_and_evidence_per_criterion():
    assert "bpo score {id} GATE --scores CRITERION=SCORE" in str(RefusalKind.WRONG_GATE_KIND.hint)
    assert "--evidence CRITERION=REF" in str(RefusalKind.EVIDENCE_REQUIRED.hint)


def test_a_decision_sent_to_an_approval_gate_says_an_approval_gate():
    run = Run()
    said = run.refused(Score(gate="gap_analysis_approved", by=DANA, scores={"a": 4}), "WrongGateKind")
    assert "is an approval gate, not a scorecard" in said
    card_run = Run(card(EVIDENCED, "threshold: 3"))
    assert "is a scorecard gate and is not approved" in card_run.refused(Approve(gate=G, by=LI), "WrongGateKind")
