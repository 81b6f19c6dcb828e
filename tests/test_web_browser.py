"""The web app in Debian's Chromium: a sponsor signs in by an emailed link and approves, a
provider lead signs in through a real OpenID Connect provider (`oidc-provider`, run on the
machine's Node.js) and approves, an SME finds no button, and axe-core finds no serious
accessibility problem on the pages they use. Screenshots land in test-output/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from infra.db import make_engine
from infra.links import mint_link
from tests.stack import DANA, EVE, RAJ, ROOT, sso_web_stack, wait_until
from tests.web_client import link_in, mails_to

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
NODE = ROOT / "tests" / "browser"
SHOTS = ROOT / "test-output"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The engine with the web app, mail to a real SMTP server, single sign-on through a real
    OpenID Connect provider on loopback."""
    with sso_web_stack(tmp_path_factory.mktemp("browser")) as stack:
        yield stack


def serious_violations(browser) -> list[str]:
    """What axe-core finds serious or critical on the page the browser shows."""
    browser.execute_script((NODE / "node_modules" / "axe-core" / "axe.min.js").read_text())
    found = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']}).then(r => done(JSON.stringify(r.violations)));"
    )
    return [f"{v['id']}: {v['help']}" for v in json.loads(found) if v["impact"] in ("serious", "critical")]


def text(browser) -> str:
    """What the page says; nothing while the browser is between pages."""
    try:
        return browser.find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        return ""


def test_a_sponsor_asks_for_a_link_opens_it_from_the_mail_and_approves_on_the_gate_page(web, browser):
    browser.get(f"{web.web_url}/login")
    browser.find_element(By.ID, "email").send_keys(DANA)
    browser.find_element(By.CSS_SELECTOR, "form.card button").click()
    assert wait_until(lambda: "Check your mail" in text(browser), 20)
    mails = wait_until(lambda: [m for m in mails_to(web.received, DANA) if "sign-in link" in m["Subject"]], 30)
    assert mails, "the link arrives by SMTP"
    link = link_in(mails[-1])
    browser.get(link)
    browser.find_element(By.ID, "continue").click()
    assert wait_until(lambda: "Slas signed" in text(browser), 20), text(browser)
    assert "Portfolio" in text(browser)
    browser.save_screenshot(str(SHOTS / "web-inbox.png"))
    assert serious_violations(browser) == []

    browser.find_element(By.LINK_TEXT, "Slas signed").click()
    assert wait_until(lambda: browser.find_elements(By.ID, "approve") and browser.find_elements(By.ID, "waive"), 20)
    browser.save_screenshot(str(SHOTS / "web-gate.png"))
    assert serious_violations(browser) == []
    browser.find_element(By.ID, "note").send_keys("SLA schedule agreed at the steering committee")
    browser.find_element(By.ID, "approve").click()
    assert wait_until(lambda: "Done: your approve is recorded" in text(browser), 20), text(browser)
    assert "approved by Dana Whitfield (web-link)" in text(browser)
    assert "dana@acme.example (web-link)" in web.ok("audit", TID)

    browser.get(f"{web.web_url}/t/{TID}")
    assert "Gates of Planning" in text(browser) or "Gates of" in text(browser)
    browser.save_screenshot(str(SHOTS / "web-transition.png"))
    assert serious_violations(browser) == []

    browser.get(link)
    assert wait_until(lambda: "already used" in text(browser), 20)


def test_an_sme_sees_no_button_on_a_gate_he_may_not_decide(web, browser):
    token = mint_link(make_engine(f"sqlite:///{web.data_dir / 'audit.db'}"), EVE, "/", timedelta(hours=1))
    browser.delete_all_cookies()
    browser.get(f"{web.web_url}/login/link/{token}")
    browser.find_element(By.ID, "continue").click()
    assert wait_until(lambda: EVE in text(browser) and "/login" not in browser.current_url, 20)
    browser.get(f"{web.web_url}/t/{TID}/gates/slas_signed")
    assert browser.find_elements(By.ID, "no-decision")
    assert not browser.find_elements(By.CSS_SELECTOR, "form.card button")


def test_a_provider_lead_signs_in_through_the_identity_provider_and_approves(web, browser):
    browser.delete_all_cookies()
    browser.get(f"{web.web_url}/login")
    browser.find_element(By.LINK_TEXT, "Sign in with your organisation").click()
    wait_until(lambda: browser.find_elements(By.NAME, "login"), 20)
    browser.find_element(By.NAME, "login").send_keys(RAJ)
    browser.find_element(By.NAME, "password").send_keys("anything")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    if wait_until(lambda: "Slas signed" in text(browser) or "Continue" in text(browser), 20) and "Continue" in text(
        browser
    ):
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # the provider's consent
    assert wait_until(lambda: "Slas signed" in text(browser), 20), text(browser)
    assert RAJ in text(browser)
    browser.find_element(By.LINK_TEXT, "Slas signed").click()
    wait_until(lambda: browser.find_elements(By.ID, "approve"), 20)
    browser.find_element(By.ID, "approve").click()
    assert wait_until(lambda: "approved by Raj Menon (web-oidc)" in text(browser), 20), text(browser)
    trail = json.loads(web.ok("audit", TID, "--json"))
    row = next(r for r in trail if r["kind"] == "approved" and r["actor"] == RAJ)
    assert row["via"] == "web-oidc" and row["detail"]["operator"].startswith("http://127.0.0.1:")
    slas = next(g for g in web.status(TID)["gates"] if g["key"] == "slas_signed")
    assert RAJ not in slas["waiting_for"]
