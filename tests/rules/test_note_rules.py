"""Notes on the audit trail: anyone on the roster, changing nothing but the trail and the log."""

from __future__ import annotations

import pytest

from bpo.report import render_report
from models.commands import Approve, Note, Pause
from starter import build_parser
from tests.rules.sim import DANA, LI, RAJ, Run
from tests.test_report_templates import records
from workflows.rules import Refused
from workflows.rules.registry import signal_command


def test_anyone_on_the_roster_notes_and_the_note_is_audited_with_its_author():
    run = Run()
    gates = run.status().gates
    status = run.do(Note(by=RAJ, text="vendor call moved to Thursday", via="cli", operator="raj"))
    noted = [a for a in run.audit if a.kind == "noted"]
    assert [(a.actor, a.detail["note"], a.via) for a in noted] == [(RAJ, "vendor call moved to Thursday", "cli")]
    assert (status.decisions[-1].kind, status.decisions[-1].note) == ("noted", "vendor call moved to Thursday")
    assert status.gates == gates  # a note decides nothing


def test_a_note_by_someone_off_the_roster_is_refused_with_who_may():
    run = Run()
    assert "'stranger@x.example' is not on the roster" in run.refused(
        Note(by="stranger@x.example", text="hello"), "NotAllowed"
    )


def test_a_note_reads_in_the_reports_trail():
    run = Run()
    run.do(Pause(by=LI, reason="audit"))  # the report reads decisions from the trail once it has one
    run.do(Note(by=DANA, text="steering committee <agreed> the cutover"))
    html = render_report(run.machine.plan, run.status(), records(run), run.now)
    assert "steering committee &lt;agreed&gt; the cutover" in html


def test_bpo_note_takes_the_text_and_the_author():
    args = build_parser().parse_args(["note", "t-1", "steering committee agreed", "--by", DANA])
    assert (args.func, args.text, args.by) == ("deciding:cmd_decide", "steering committee agreed", DANA)


def test_a_note_or_a_score_sent_as_a_signal_is_refused_saying_to_send_it_as_an_update():
    for name in ("note", "score"):
        with pytest.raises(Refused) as refused:
            signal_command(name)
        assert str(refused.value) == f"'{name}' is not taken as a signal; send it as an update (bpo {name})"
        assert refused.value.kind == "UnknownCommand"
    with pytest.raises(Refused, match="no command is called 'frobnicate'; commands: approve, tick"):
        signal_command("frobnicate")
    assert signal_command("approve") is Approve
