"""The program office in Debian's Chromium (issue 32): a program manager runs the transition from
its page alone (a RAID item that holds a gate, added and closed; the roster changed; an amendment
proposed with its changes shown; paused and resumed; escalated), the sponsor approves the
amendment there, an SME finds none of those forms, every action is audited ``via web-link``, and
axe-core finds no serious accessibility problem on the pages with the new forms. Screenshots land
in test-output/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from infra.db import make_engine
from infra.links import mint_link
from tests.stack import DANA, EVE, LI, REFERENCE_PLAN, wait_until, web_stack
from tests.test_web_browser import SHOTS, serious_violations, text

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
LEADS_FORMS = ("change_roster", "amend", "pause", "resume", "escalate", "cancel", "raid_close")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The engine with the web app and one transition of the reference plan."""
    with web_stack(tmp_path_factory.mktemp("forms"), BPO_PROGRAM_OFFICE=LI) as stack:
        yield stack


def sign_in(web, browser, address: str) -> None:
    """``address`` signed in by a link made for them, in a browser with no other session."""
    token = mint_link(make_engine(f"sqlite:///{web.data_dir / 'audit.db'}"), address, "/", timedelta(hours=1))
    browser.delete_all_cookies()
    browser.get(f"{web.web_url}/login/link/{token}")
    browser.find_element(By.ID, "continue").click()
    assert wait_until(lambda: address in text(browser) and "/login" not in browser.current_url, 20)


def fill(browser, **fields: str) -> None:
    """Type into the inputs with these ids (underscores for dashes), or pick from their lists."""
    for name, value in fields.items():
        found = browser.find_element(By.ID, name.replace("__", "-"))
        if found.tag_name == "select":
            Select(found).select_by_value(value)
        else:
            found.clear()
            found.send_keys(value)


def press(web, browser, button: str, done: str) -> None:
    browser.find_element(By.ID, button).click()
    assert wait_until(lambda: done in text(browser), 30), text(browser)[:2000]


def gate_status(web, key: str) -> str:
    return next(g for g in web.status(TID)["gates"] if g["key"] == key)["status"]


def test_a_program_manager_runs_the_transition_from_its_page_and_the_sponsor_decides_the_amendment(web, browser):
    sign_in(web, browser, LI)
    page = f"{web.web_url}/t/{TID}"
    browser.get(page)
    assert wait_until(lambda: "What needs you" in text(browser), 20)
    assert serious_violations(browser) == []

    fill(
        browser,
        raid_add__kind="issue",
        raid_add__title="Telephony cut-over not booked",
        raid_add__owner=LI,
        raid_add__severity="high",
        raid_add__blocks="gap_analysis_approved",
    )
    press(web, browser, "do-raid_add", "“Open a RAID item” is recorded")
    browser.get(f"{page}/gates/gap_analysis_approved")
    press(web, browser, "approve", "Done: your approve is recorded")
    assert gate_status(web, "gap_analysis_approved") == "open", "the open item holds the gate"
    browser.get(page)
    fill(browser, raid_close__note="booked for 12 January")
    press(web, browser, "do-raid_close", "“Close a RAID item” is recorded")
    assert wait_until(lambda: gate_status(web, "gap_analysis_approved") == "passed", 20)

    fill(browser, roster__add__id="sam@acme.example", roster__add__name="Sam Ortiz", roster__add__roles="sme")
    press(web, browser, "do-change_roster", "“Change the roster” is recorded")
    assert "Sam Ortiz" in text(browser)

    new_plan = REFERENCE_PLAN.read_text().replace("name: Customer satisfaction", "name: Customer happiness", 1)
    area = browser.find_element(By.ID, "amend-plan-text")
    browser.execute_script("arguments[0].value = arguments[1]", area, new_plan)  # as pasted
    fill(browser, amend__reason="the client's own word")
    press(web, browser, "do-amend", "What it changes")
    assert "KPI csat changed" in text(browser)
    browser.save_screenshot(str(SHOTS / "web-amend.png"))
    assert serious_violations(browser) == []
    press(web, browser, "propose", "“Propose an amendment” is recorded")

    fill(browser, pause__reason="client freeze over the holidays")
    press(web, browser, "do-pause", "Paused: client freeze over the holidays")
    assert browser.find_elements(By.ID, "form-resume") and not browser.find_elements(By.ID, "form-pause")
    press(web, browser, "do-resume", "“Resume the transition” is recorded")
    fill(browser, escalate__reason="the provider has not staffed the pilot")
    press(web, browser, "do-escalate", "“Escalate now” is recorded")
    browser.execute_script("document.getElementById('roster').scrollIntoView()")  # the roster's forms
    browser.save_screenshot(str(SHOTS / "web-office.png"))
    assert serious_violations(browser) == []

    sign_in(web, browser, DANA)
    browser.get(page)
    assert wait_until(lambda: browser.find_elements(By.ID, "approve-amendment_1"), 20)
    assert serious_violations(browser) == []
    press(web, browser, "approve-amendment_1", "“Decide an amendment” is recorded")
    assert web.status(TID)["amendments"][0]["status"] == "approved"

    sign_in(web, browser, EVE)
    browser.get(page)
    assert wait_until(lambda: "What needs you" in text(browser), 20)
    assert not [f for f in LEADS_FORMS if browser.find_elements(By.ID, f"form-{f}")]
    assert serious_violations(browser) == []

    rows = json.loads(web.ok("audit", TID, "--json"))
    via = {r["kind"]: r["via"] for r in rows if r["actor"] in (LI, DANA)}
    for kind in ("raid_added", "raid_closed", "roster_changed", "amendment_proposed", "amendment_approved"):
        assert via.get(kind) == "web-link", (kind, via)
    for kind in ("paused", "resumed", "escalated"):
        assert via.get(kind) == "web-link", (kind, via)


def test_the_program_office_reads_the_portfolio_analytics(web, browser):
    """`/analytics` in Chromium for the program office, with readings to trend: no serious
    accessibility problem, and a screenshot for docs/images."""
    web.ok("kpi", TID, "--by", LI, "--period", "2027-W01", "csat=88", "error_rate=1.5")
    web.ok("kpi", TID, "--by", LI, "--period", "2027-W02", "csat=91", "error_rate=2.5")
    sign_in(web, browser, LI)

    def trended() -> bool:  # the readings reach the trail with the transition's next flush
        browser.get(f"{web.web_url}/analytics")
        return "NorthStar BPO" in text(browser)

    assert wait_until(trended, 60), text(browser)[:2000]
    assert "KPI trends against SLA, by provider" in text(browser) and "≥ 85 percent" in text(browser)
    assert "Gap analysis approved" in text(browser)  # gates and roles in words, as everywhere
    assert serious_violations(browser) == []
    browser.execute_script("document.getElementById('trends').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "analytics.png"))
