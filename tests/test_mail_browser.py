"""A notice's HTML mail, as received by a real SMTP server, opened in Debian's Chromium: it shows
the gate's facts and its button, and axe-core finds no serious accessibility problem in it. The
screenshots land in test-output/ (mail-approval-request.png, mail-group-notice.png)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from models.deliveries import Notice
from tests.stack import ROOT
from tests.test_mail import LI, MO, RAJ, mailed, parts, request
from tests.test_web_browser import serious_violations

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
async def test_the_html_mail_renders_in_chromium_with_its_button_and_passes_axe_core(engine, browser, tmp_path: Path):
    group = Notice(
        id="t1/1/5",
        transition_id="t1",
        kind="escalation",
        subject="[ACME Corp] Strategic planning is overdue",
        text="Phase 'Strategic planning' was due 2d ago.",
        at=datetime(2027, 1, 24, 9, 0, tzinfo=UTC),
        recipients=[LI, RAJ, MO],
        detail={"phase": "planning"},
    )
    asked, *told = await mailed(engine, request(), group)
    for name, mail in (("mail-approval-request", asked), ("mail-group-notice", told[0])):
        page = tmp_path / f"{name}.html"
        page.write_text(parts(mail)[1], encoding="utf-8")
        browser.get(page.as_uri())
        button = browser.find_element(By.CSS_SELECTOR, "main a[href*='/login/link/']")
        assert button.is_displayed() and button.text in ("Decide on the gate", "Open the transition")
        assert browser.find_element(By.TAG_NAME, "h1").text
        assert serious_violations(browser) == [], name
        browser.save_screenshot(str(ROOT / "test-output" / f"{name}.png"))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Open the transition" in body
    browser.get((tmp_path / "mail-approval-request.html").as_uri())
    shown = browser.find_element(By.TAG_NAME, "body").text
    for fact in ("Gap analysis approved", "0/1 approvals", "Fri 22 Jan 2027 17:00 UTC", "Tier 1 <b>support</b>"):
        assert fact in shown, fact
