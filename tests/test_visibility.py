"""What managers see: `bpo list`, the Temporal Web UI, the HTML report and the calendar.

The browser is Debian's Chromium, driven by Selenium through Debian's chromedriver; `make test`
installs both. Screenshots land in test-output/.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import icalendar
import pytest
from selenium.webdriver.common.by import By

from tests.stack import LI, ROOT, Stack, drive_to_pilot, short_plan, wait_until

pytestmark = pytest.mark.e2e
SHOTS = ROOT / "test-output"


def test_list_ui_report_and_calendar_show_where_transitions_stand(stack: Stack, browser, tmp_path: Path):
    s = stack
    plan = str(short_plan(tmp_path))
    in_planning = s.ok("start", plan, "--id", "acme-planning").strip()
    in_pilot = s.ok("start", plan, "--id", "acme-pilot").strip()
    drive_to_pilot(s, in_pilot)
    s.ok("kpi", in_pilot, "--by", LI, "--period", "2027-W09", "csat=91", "error_rate=2.4", "first_response_hours=3.5")
    s.ok("kpi", in_pilot, "--by", LI, "--period", "2027-W10", "csat=86", "error_rate=1.4", "first_response_hours=3")

    # bpo list answers from the visibility store, which catches up a moment after each change.
    def pilot_ids():
        return [t["id"] for t in json.loads(s.ok("list", "--phase", "pilot", "--json"))]

    assert wait_until(lambda: pilot_ids() == [in_pilot]) and pilot_ids() == [in_pilot]
    listed = {t["id"]: t for t in json.loads(s.ok("list", "--json"))}
    assert set(listed) == {in_planning, in_pilot}
    assert listed[in_planning]["phase"] == "planning" and listed[in_pilot]["client"] == "ACME Corp"
    assert json.loads(s.ok("list", "--client", "Nobody Inc", "--json")) == []
    assert "acme-pilot" in s.ok("list", "--health", "on_track")

    # The Web UI: filter by a search attribute, find the transition, read its summary and details.
    ui = f"http://127.0.0.1:{s.ui_port}/namespaces/default/workflows"
    query = quote('BpoPhase = "pilot"')
    browser.get(f"{ui}?query={query}")
    rows = wait_until(lambda: browser.find_elements(By.PARTIAL_LINK_TEXT, in_pilot))
    browser.save_screenshot(str(SHOTS / "ui-filtered-by-phase.png"))
    assert rows and not browser.find_elements(By.PARTIAL_LINK_TEXT, in_planning)
    browser.get(f"{ui}/{in_pilot}")
    tab = wait_until(lambda: browser.find_elements(By.PARTIAL_LINK_TEXT, "User Metadata"))
    tab[0].click()
    frames = wait_until(lambda: browser.find_elements(By.TAG_NAME, "iframe"))
    texts = []
    for frame in frames:
        browser.switch_to.frame(frame)
        texts.append(browser.find_element(By.TAG_NAME, "body").text)
        browser.switch_to.default_content()
    browser.save_screenshot(str(SHOTS / "ui-user-metadata.png"))
    assert "ACME Corp → NorthStar BPO: ACME Tier-1 support to NorthStar BPO" in texts
    assert any("Pilot (phase 4/6)" in t.replace("⁄", "/") and "pilot_go" in t for t in texts)

    # The report: one file that opens from disk, with its timeline and KPI charts drawn.
    report = tmp_path / "report.html"
    s.ok("report", in_pilot, "--out", str(report))
    html = report.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html.replace("https://wiki", "")
    browser.get(report.as_uri())
    timeline = browser.find_element(By.CSS_SELECTOR, "svg.timeline")
    bars = timeline.find_elements(By.CSS_SELECTOR, "rect.actual")
    assert timeline.size["width"] > 500 and len(bars) == 4  # planning, mobilization, knowledge transfer, pilot
    chart = browser.find_element(By.CSS_SELECTOR, 'svg.kpi-chart[data-metric="error_rate"]')
    assert chart.size["height"] > 100
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.miss")) == 1  # 2.4 against an SLA of 2.0
    assert chart.find_elements(By.CSS_SELECTOR, "line.sla") and chart.find_elements(By.CSS_SELECTOR, "line.target")
    decisions = browser.find_element(By.CSS_SELECTOR, "table.decisions").text
    assert LI in decisions and "Kickoff held" in decisions
    browser.save_screenshot(str(SHOTS / "report.png"))

    # The calendar parses with a standard iCalendar library and holds the milestones.
    calendar_file = tmp_path / "transition.ics"
    s.ok("calendar", in_pilot, "--out", str(calendar_file))
    calendar = icalendar.Calendar.from_ical(calendar_file.read_bytes())
    events = [str(e.get("SUMMARY")) for e in calendar.walk("VEVENT")]
    assert "Pilot due" in events
    assert {"Phased ramp-up due (planned)", "Integration and hypercare due (planned)"} <= set(events)
    # check-ins and reviews are one recurring event each, so a subscribed calendar never doubles them
    series = {str(e.get("SUMMARY")): e for e in calendar.walk("VEVENT") if e.get("RRULE")}
    assert events.count("Check-in: ACME Tier-1 support to NorthStar BPO") == 1
    assert series["Check-in: ACME Tier-1 support to NorthStar BPO"]["RRULE"]["FREQ"] == ["WEEKLY"]
    assert events.count("Quarterly business review: ACME Tier-1 support to NorthStar BPO") == 1
    uids = [str(e.get("UID")) for e in calendar.walk("VEVENT")]
    assert len(uids) == len(set(uids))
