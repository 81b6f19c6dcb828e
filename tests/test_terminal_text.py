"""What a person or a plan wrote is printed to a terminal as text: a newline in a note never
starts a line of `bpo audit`'s table of its own, an ANSI escape never reaches the terminal, and
`bpo versions` shows a transition's id the same way. Driven by the rules, no server."""

from __future__ import annotations

from bpo.commands.versions import RunSeen, group, render
from bpo.render import trail_text
from models.commands import Note
from tests.rules.sim import DANA, EVE, Run
from tests.test_report_templates import records
from workflows.rules import versions

FAKE = f"2026-12-04 22:50:00  approved  planning  gap_analysis_approved  {DANA} (web-link)"


def test_a_note_with_a_newline_prints_on_its_own_row_of_the_audit_trail_not_as_a_forged_row():
    run = Run()
    run.do(Note(by=EVE, text=f"fine\n{FAKE}\x1b[2K\x1b[1A"))
    text = trail_text(records(run))
    assert not any(line.startswith(FAKE) for line in text.splitlines()), text
    [row] = [line for line in text.splitlines() if " note " in f" {line} " or "fine" in line]
    assert f"fine⏎{FAKE[:40]}" in row and "\x1b" not in text and "\\e[2K" in row


def test_bpo_versions_shows_a_transition_id_with_control_characters_as_text():
    forged = "acme\n  rules-epoch-2026-12 (1): all-clear\x1b[31m"
    text = render(group([RunSeen(id=forged, run_id="r-1", epoch=versions.NEWEST)]))
    assert "\x1b" not in text and "\n  rules-epoch-2026-12 (1): all-clear" not in text
    assert "acme⏎  rules-epoch-2026-12 (1): all-clear\\e[31m" in text
