"""A program's page in Debian's Chromium, on the real dev server, worker and web app: the example
program of three workstreams started with the real `bpo`, its contract signed, email through its
pilot (so chat starts); someone on the roster signs in and sees a lane per workstream, each named
and linking to its own page, and axe-core finds nothing serious; the sponsor's portfolio counts the
program and its workstreams, each workstream under it. The lanes' screenshot is kept in
test-output/program-lanes.png (the README shows a copy, docs/images/program-lanes.png)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By

from infra.db import make_engine
from infra.links import mint_link
from tests.stack import DANA, EVE, LI, ROOT, wait_until, web_stack
from tests.test_web_browser import SHOTS, serious_violations, text

pytestmark = pytest.mark.e2e
PROGRAM_PLAN = ROOT / "examples" / "program-plan.yaml"
PID = "acme-contact-centre"
STREAMS = {"email": "Tier-1 email support", "chat": "Live chat", "voice": "Inbound voice"}


def states(status: dict) -> dict[str, str]:
    return {w["key"]: w["state"] for w in status["workstreams"]}


def test_the_program_page_in_chromium_draws_a_named_lane_per_workstream(tmp_path, browser):
    with web_stack(tmp_path) as s:
        s.ok("start", str(PROGRAM_PLAN), "--id", PID)
        s.ok("approve", PID, "contract_signed", "--by", DANA)
        s.wait_for(PID, lambda st: states(st)["email"] == states(st)["voice"] == "running")
        s.ok("tick", f"{PID}/email", "process_maps", "email_support", "--by", EVE)
        for period in ("W1", "W2"):
            s.ok("kpi", f"{PID}/email", "--by", LI, "--period", period, "csat=91", "aht=6.5")
        s.wait_for(PID, lambda st: states(st)["chat"] == "running")  # chat waited for email's pilot

        token = mint_link(make_engine(f"sqlite:///{s.data_dir / 'audit.db'}"), EVE, "/", timedelta(hours=1))
        browser.get(f"{s.web_url}/login/link/{token}")
        browser.find_element(By.ID, "continue").click()
        assert wait_until(lambda: EVE in text(browser) and "/login" not in browser.current_url, 20)
        browser.get(f"{s.web_url}/t/{PID}")
        assert wait_until(lambda: "Workstreams" in text(browser), 20), text(browser)
        section = browser.find_element(By.CSS_SELECTOR, "section.workstreams")
        labels = browser.find_elements(By.CSS_SELECTOR, "svg.lanes > a")
        assert [a.get_dom_attribute("href") for a in labels] == [f"/t/{PID}/{key}" for key in STREAMS]
        assert [a.text for a in labels] == list(STREAMS.values())
        assert len(section.find_elements(By.CSS_SELECTOR, "tbody tr")) == len(STREAMS)
        assert "after email passes pilot" in section.text
        browser.execute_script("arguments[0].scrollIntoView()", section)
        section.screenshot(str(SHOTS / "program-lanes.png"))
        assert serious_violations(browser) == []

        section.find_element(By.LINK_TEXT, STREAMS["email"]).click()
        assert f"Workstream email of program {PID}" in text(browser)
        assert browser.current_url == f"{s.web_url}/t/{PID}/email"

        # The sponsor's portfolio: the reference transition and the program, its workstreams under it.
        token = mint_link(make_engine(f"sqlite:///{s.data_dir / 'audit.db'}"), DANA, "/", timedelta(hours=1))
        browser.delete_all_cookies()
        browser.get(f"{s.web_url}/login/link/{token}")
        browser.find_element(By.ID, "continue").click()
        counted = "2 transitions you sponsor or manage, 1 program with 3 workstreams"
        assert wait_until(lambda: counted in text(browser) or browser.refresh(), 30), text(browser)
        table = browser.find_element(By.CSS_SELECTOR, "table.portfolio")
        ids = [a.get_dom_attribute("href") for a in table.find_elements(By.CSS_SELECTOR, "tbody a")]
        program = ids.index(f"/t/{PID}")
        assert ids[program + 1 : program + 4] == [f"/t/{PID}/{key}" for key in sorted(STREAMS)]
        browser.save_screenshot(str(SHOTS / "program-portfolio.png"))
        assert serious_violations(browser) == []
