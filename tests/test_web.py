"""The web app end to end: a real dev server, worker and `bpo web`, mail through a real SMTP
server, and people played by HTTP clients that submit each page's forms with their tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from infra.db import make_engine
from infra.links import mint_link
from tests.stack import DANA, EVE, LI, MO, RAJ, REFERENCE_PLAN, Stack, wait_until, web_stack
from tests.web_client import Person, link_in, mails_to, text_of

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
GATE = f"/t/{TID}/gates/slas_signed"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The whole engine with the web app, mail going to a real SMTP server; one transition of
    the reference plan, whose commands must be signed by the app's key; Li is the program office."""
    with web_stack(tmp_path_factory.mktemp("web"), BPO_PROGRAM_OFFICE=LI) as stack:
        yield stack


def signed_in(web: Stack, address: str) -> Person:
    """``address`` signed in through a link made for them, as /login would mail it."""
    person = Person(web.web_url)
    token = mint_link(make_engine(f"sqlite:///{web.data_dir / 'audit.db'}"), address, "/", timedelta(hours=1))
    assert person.sign_in(f"{web.web_url}/login/link/{token}").status_code == 303
    return person


def test_an_approval_request_mails_a_link_that_signs_in_once_and_the_approval_is_signed_and_audited(web):
    mail = wait_until(lambda: [m for m in mails_to(web.received, DANA) if "Slas signed" in m["Subject"]], 60)
    assert mail, "the sponsor is asked by mail when the gate opens"
    link = link_in(mail[0])
    dana = Person(web.web_url)
    landed = dana.sign_in(link)
    assert landed.status_code == 303 and landed.headers["location"] == GATE
    page = dana.get(GATE).text
    assert 'id="approve"' in page and "Waive" in page
    assert "<h1>Slas signed</h1>" in page and "slas_signed" not in text_of(page), "the gate by its name, not its key"
    done = dana.submit(GATE, {"action": "approve", "note": "<script>alert(1)</script> terms agreed"})
    assert done.status_code == 303
    after = dana.get(GATE).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; terms agreed" in after and "<script>alert" not in after
    assert "approved by Dana Whitfield (web-link)" in text_of(after)
    assert "dana@acme.example (web-link)" in web.ok("audit", TID)
    approval = next(r for r in json.loads(web.ok("audit", TID, "--json")) if r["kind"] == "approved")
    assert approval["via"] == "web-link" and approval["signature"], "the app signs what it sends"
    assert "signatures hold" in web.ok("audit", TID, "--verify")
    again = Person(web.web_url).sign_in(link)
    assert again.status_code == 410 and "already used" in again.text


def test_the_inbox_lists_what_waits_on_me_from_visibility_and_drops_it_once_decided(web):
    raj = signed_in(web, RAJ)
    assert wait_until(lambda: "slas_signed" in raj.get("/").text, 30)
    li = signed_in(web, LI)
    home = text_of(li.get("/").text)
    assert "Gap analysis approved" in home and "Governance defined" in home and "Portfolio" in home
    assert "gap_analysis_approved" not in home, "the inbox names gates as people read them"
    assert "Strategic planning" in home, "and phases by the name their plan gives them"
    for phase in ("planning", "strategic planning"):
        assert "0 transitions" not in text_of(li.get(f"/?phase={phase}").text), "the portfolio filters by key or name"
    assert "0 transitions you sponsor or manage" in text_of(li.get("/?phase=pilot").text)
    eve = signed_in(web, EVE)
    eve_home = text_of(eve.get("/").text)
    assert "Nothing waits on you" in eve_home and "Portfolio" not in eve_home
    assert "on track" in text_of(li.get("/?health=on_track").text)
    assert "0 transitions you sponsor or manage" in text_of(li.get("/?health=escalated").text)


def test_someone_who_may_not_decide_sees_no_button_and_a_forged_post_is_refused_in_the_cli_words(web):
    eve = signed_in(web, EVE)
    page = eve.get(GATE).text
    assert 'id="no-decision"' in page and 'id="approve"' not in page
    refused = eve.submit(GATE, {"action": "approve"})
    assert refused.status_code == 409
    cli = web.bpo("approve", TID, "slas_signed", "--by", EVE)
    assert cli.returncode == 2
    words = next(line for line in cli.stderr.splitlines() if "may not" in line).removeprefix("bpo approve: ")
    assert f"Refused: {words}" in text_of(refused.text)
    before = web.status(TID)
    forged = eve.http.post(GATE, data={"csrf": "forged", "action": "waive", "reason": "x"})
    missing = eve.http.post(GATE, data={"action": "waive", "reason": "x"})
    assert forged.status_code == 403 and missing.status_code == 422
    assert web.status(TID)["gates"] == before["gates"]


def test_a_delegate_named_with_bpo_delegate_finds_the_gate_in_their_inbox_until_it_ends(web):
    web.ok("delegate", TID, "--from", RAJ, "--to", MO, "--until", "2099-01-01", "--by", RAJ)
    mo = signed_in(web, MO)
    assert wait_until(lambda: "slas_signed" in mo.get("/").text, 30), "the delegate sees the gate"
    assert 'id="approve"' in mo.get(GATE).text
    assert f"{MO} decides for {RAJ} until the end of 2099-01-01" in web.ok("status", TID)
    refused = web.bpo("delegate", TID, "--from", RAJ, "--to", MO, "--until", "2099-01-01", "--by", EVE)
    assert refused.returncode == 2 and "may not delegate" in refused.stderr
    web.ok("delegate", TID, "--from", RAJ, "--end", "--by", RAJ)
    assert 'id="approve"' not in mo.get(GATE).text
    assert "delegated" in web.ok("audit", TID) and "delegation_ended" in web.ok("audit", TID)


def test_login_answers_the_same_for_anyone_and_mails_only_people_on_a_roster(web):
    answers = []
    for address in (LI, "nobody@nowhere.example"):
        person = Person(web.web_url)
        answers.append(text_of(person.submit("/login", {"email": address, "next": "/"}).text).replace(address, "X"))
    assert answers[0] == answers[1]
    assert wait_until(lambda: [m for m in mails_to(web.received, LI) if "sign-in link" in m["Subject"]], 20)
    assert not mails_to(web.received, "nobody@nowhere.example")
    no_token = Person(web.web_url).http.post("/login", data={"email": LI, "next": "/"})
    assert no_token.status_code in (403, 422)


def test_an_expired_link_says_so_and_offers_another(web):
    token = mint_link(make_engine(f"sqlite:///{web.data_dir / 'audit.db'}"), DANA, "/", timedelta(seconds=-1))
    answer = Person(web.web_url).sign_in(f"{web.web_url}/login/link/{token}")
    assert answer.status_code == 410 and "expired" in answer.text and "/login" in answer.text
    unknown = Person(web.web_url).sign_in(f"{web.web_url}/login/link/not-a-token")
    assert unknown.status_code == 410


def test_bad_uploads_are_refused_with_reasons_and_start_nothing(web, tmp_path: Path):
    li = signed_in(web, LI)
    listed = web.ok("list")
    huge = li.submit("/start", {}, files={"plan": ("big.yaml", b"a: b\n" * (2 * 1024 * 1024))})
    assert huge.status_code == 413
    junk = li.submit("/start", {}, files={"plan": ("junk.yaml", bytes(range(256)) * 10)})
    assert junk.status_code == 422 and "not a text file" in junk.text
    broken = REFERENCE_PLAN.read_text().replace("starts_on: 2027-01-04", "starts_on: someday")
    bad = li.submit("/start", {}, files={"plan": ("plan.yaml", broken.encode())})
    assert bad.status_code == 422 and "plan.yaml:" in bad.text and "starts_on" in bad.text
    assert web.ok("list") == listed
    csv = b"period,metric,value\n2027-W01,csat,91\n2027-W01,csat,not-a-number\n"
    kpi = li.submit(f"/t/{TID}/kpi", {}, files={"readings": ("r.csv", csv)})
    assert kpi.status_code == 409 and "r.csv:3: 2027-W01,csat,not-a-number" in text_of(kpi.text), text_of(kpi.text)
    assert "2027-W01" not in web.ok("audit", TID)


def test_a_personal_token_reads_and_records_through_the_api_and_is_audited_as_api(web):
    li = signed_in(web, LI)
    made = li.submit("/me/tokens", {"name": "servicenow", "scope": "decide"})
    assert made.status_code == 200, text_of(made.text)
    token = made.text.split('id="token">', 1)[1].split("<", 1)[0]
    api = Person(web.web_url).http
    assert api.get("/api/inbox").status_code == 401
    assert api.get("/api/inbox", headers={"Authorization": "Bearer bpo_wrong"}).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    inbox = api.get("/api/inbox", headers=bearer).json()
    assert {"gap_analysis_approved", "governance_defined"} <= {i["gate"] for i in inbox}
    status = api.get(f"/api/transitions/{TID}", headers=bearer)
    assert status.status_code == 200 and status.json()["id"] == TID
    recorded = api.post(
        f"/api/transitions/{TID}/readings", headers=bearer, json={"period": "2027-W02", "values": {"csat": 91}}
    )
    assert recorded.status_code == 200, recorded.text
    refused = api.post(f"/api/transitions/{TID}/gates/slas_signed/approve", headers=bearer, json={})
    assert refused.status_code == 409 and "may not sign off" in refused.json()["error"]
    assert "li@acme.example (api)" in web.ok("audit", TID)
    spec = api.get("/api/openapi.json").json()
    assert "/api/transitions/{transition_id}/readings" in spec["paths"]
    assert json.dumps(spec).count("bpo_") == 0


def test_the_decision_that_passes_the_phase_lands_on_the_transition_page(web):
    li, raj = signed_in(web, LI), signed_in(web, RAJ)
    gates = f"/t/{TID}/gates"
    assert li.submit(f"{gates}/gap_analysis_approved", {"action": "approve"}).status_code == 303
    for item in ("raci", "escalation_matrix", "communication_protocol", "knowledge_base"):
        assert li.submit(f"{gates}/governance_defined", {"action": "tick", "item": item}).status_code == 303
    last = raj.submit(f"{gates}/slas_signed", {"action": "approve"})
    landed = raj.http.get(last.headers["location"], follow_redirects=True)
    assert landed.status_code == 200 and "the transition moved on" in text_of(landed.text)
    assert web.status(TID)["phase"] == "mobilization"
    asked = wait_until(lambda: [m for m in mails_to(web.received, RAJ) if "Kickoff held" in m["Subject"]], 30)
    assert asked and "/login/link/" in link_in(asked[0]), "the next phase's approvers are asked by mail"


def test_the_transition_page_shows_the_raid_log_and_objectives_and_opens_the_quarter_pack(web):
    li = signed_in(web, LI)
    web.ok("raid", TID, "add", "--kind", "risk", "--title", "Peak season staffing", "--owner", RAJ, "--by", LI)
    page = text_of(li.http.get(f"/t/{TID}").text)
    assert "RAID log" in page and "Peak season staffing" in page and "Objectives" in page
    assert "Hold customer satisfaction at or above 88%" in page
    assert "Training and knowledge transfer" in page and "knowledge_transfer" not in page, "the timeline's lanes by name"
    assert "Kickoff held" in page and "kickoff_held" not in page, "the gates by name"
    pack = li.http.get(f"/t/{TID}/qbr", params={"quarter": "2027-Q1"})
    assert pack.status_code == 200 and "Business review 2027-Q1" in pack.text and "Peak season staffing" in pack.text
    assert li.http.get(f"/t/{TID}/qbr", params={"quarter": "2027-Q9"}).status_code == 400


def test_approvers_score_a_scorecard_on_its_page_and_a_score_off_the_scale_is_refused_in_words(web):
    from tests.rules.test_scorecard_rules import SCORECARD
    from tests.test_scorecard_plan import write

    web.ok("start", str(write(web.data_dir, SCORECARD)), "--id", "scored-on-the-web")
    page = "/t/scored-on-the-web/gates/gap_analysis_approved"
    li = signed_in(web, LI)
    form = li.get(page).text
    assert 'name="score.readiness"' in form and 'name="evidence.readiness"' in form and 'id="score"' in form
    off = li.submit(page, {"action": "score", "score.readiness": "9", "score.staffing": "4", "score.tooling": "4",
                           "evidence.readiness": "minutes RD-7"})  # fmt: skip
    assert off.status_code == 422 and "readiness scored 9; gate 'gap_analysis_approved' scores from 1 to 5" in text_of(off.text)
    assert 'value="9"' in off.text, "what was typed is kept for the correction"
    done = li.submit(page, {"action": "score", "score.readiness": "4", "score.staffing": "5", "score.tooling": "4",
                            "evidence.readiness": "minutes RD-7", "note": "ready"})  # fmt: skip
    assert done.status_code == 303
    gate = next(g for g in web.status("scored-on-the-web")["gates"] if g["key"] == "gap_analysis_approved")
    assert gate["progress"].startswith("1/2 scored")
    scored = next(r for r in json.loads(web.ok("audit", "scored-on-the-web", "--json")) if r["kind"] == "scored")
    assert scored["via"] == "web-link" and scored["signature"], "the app signs the scoring it sends"


def test_every_answer_carries_the_security_headers_a_page_an_error_a_stylesheet_and_the_api(web):
    li = signed_in(web, LI)
    answers = {
        "inbox": li.get("/"),
        "an unknown gate": li.get(f"/t/{TID}/gates/no_such_gate"),
        "the stylesheet": li.get("/static/app.css"),
        "the API unauthenticated": Person(web.web_url).get("/api/inbox"),
    }
    assert [a.status_code for a in answers.values()] == [200, 404, 200, 401]
    for what, answer in answers.items():
        csp = answer.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
        assert answer.headers.get("x-content-type-options") == "nosniff", what
        assert answer.headers.get("referrer-policy") == "same-origin", what
        assert answer.headers.get("cache-control") == "no-store", what
