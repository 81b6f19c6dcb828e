"""A program in its packs and feeds (semantics: "Workstreams"): the QBR pack and the report the
web app serves draw the lanes with a line per workstream; the calendar (`bpo calendar` and the web
app's) carries each running workstream's dues under the workstream's own uids; the portfolio counts programs and their
workstreams and shows each workstream under its program. Driven on the time-skipping server, the
web app in process (tests/test_workstreams_seen.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

import icalendar

from bpo.commands import seeing
from bpo.web.deps import templates
from bpo.web.views import Row, by_program
from tests.stack import EVE
from tests.test_workstreams_seen import browser, commands_here, running_program, sign_in  # noqa: F401 - fixtures
from tests.web_client import text_of


async def test_the_web_apps_qbr_report_and_calendar_of_a_program_show_its_workstreams(launch, settings, browser):  # noqa: F811
    program = await running_program(launch)
    await sign_in(browser, settings, EVE)

    pack = await browser.get(f"/t/{program.id}/qbr", params={"quarter": "2027-Q1"})
    assert pack.status_code == 200, pack.text[:500]
    assert '<svg class="lanes"' in pack.text and "Workstreams: planned against actual" in pack.text
    shown = text_of(pack.text.split('id="workstreams"')[1].split('id="objectives"')[0])
    assert "Tier-1 email support (email) running knowledge_transfer on track" in shown
    assert "Live chat (chat) waiting" in shown and "waiting for email to pass pilot" in shown
    assert "Inbound voice (voice) running" in shown

    report = await browser.get(f"/t/{program.id}/report")
    assert report.status_code == 200 and '<svg class="lanes"' in report.text

    alone = await browser.get(f"/t/{program.id}/email/qbr", params={"quarter": "2027-Q1"})
    assert alone.status_code == 200 and 'id="workstreams"' not in alone.text  # a workstream has no lanes

    feed = await browser.get(f"/t/{program.id}/calendar")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")}
    assert f"{program.id}/voice-due-knowledge_transfer@bpo-transition" in uids


async def calendar_of(transition_id: str, settings, out: Path) -> list[icalendar.Event]:
    await seeing.cmd_calendar(argparse.Namespace(id=transition_id, out=str(out)), settings)
    return list(icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT"))


async def test_a_programs_calendar_carries_each_running_workstreams_dues_under_their_own_uids(
    launch, settings, commands_here, tmp_path  # noqa: F811 - the fixture
):
    program = await running_program(launch)
    events = await calendar_of(program.id, settings, tmp_path / "program.ics")
    by_uid = {str(e["UID"]): e for e in events}
    for key, name in (("email", "Tier-1 email support"), ("voice", "Inbound voice")):
        due = by_uid[f"{program.id}/{key}-due-knowledge_transfer@bpo-transition"]
        assert str(due["SUMMARY"]) == f"{name}: Knowledge transfer due"
        assert f"Workstream {key} of program {program.id}" in str(due["DESCRIPTION"])
    assert not [uid for uid in by_uid if uid.startswith(f"{program.id}/chat")]  # chat waits: nothing due yet

    again = await calendar_of(program.id, settings, tmp_path / "again.ics")
    assert [str(e["UID"]) for e in again] == [str(e["UID"]) for e in events]  # stable: a refresh updates
    own = await calendar_of(f"{program.id}/email", settings, tmp_path / "email.ics")
    assert f"{program.id}/email-due-knowledge_transfer@bpo-transition" in {str(e["UID"]) for e in own}


def row(tid: str, client: str = "ACME", state: str = "running") -> Row:
    return Row(tid, client, "NorthStar", "pilot", "on_track", state, None, None)


def test_the_portfolio_counts_programs_and_shows_each_workstream_under_its_program():
    rows = [row("acme-cc"), row("acme-cc/voice"), row("other", "Beta"), row("acme-cc/email"), row("gone/chat")]
    shown = by_program(rows)
    assert [r.id for r in shown.rows] == ["acme-cc", "acme-cc/email", "acme-cc/voice", "other", "gone/chat"]
    html = templates.get_template("_portfolio.html").render(shown=shown)
    said = text_of(html)
    assert "2 transitions you sponsor or manage, 1 program with 2 workstreams;" in said
    assert "1 workstream shown without its program" in said
    assert "└ workstream email" in said and "└ workstream voice" in said
    assert "ACME workstream chat of gone" in said  # its program filtered out: named in full
    assert 'href="/t/acme-cc/email"' in html

    plain = text_of(templates.get_template("_portfolio.html").render(shown=by_program([row("x")])))
    assert "1 transition you sponsor or manage Client" in plain  # no program: said as before
