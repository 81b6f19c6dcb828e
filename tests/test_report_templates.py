"""The report and the QBR pack show what a plan or a person wrote exactly as written: a `<script>`
in a name or a note is text on the page, never a tag, and an ampersand is escaped once (a reader
sees ``R&D``, not ``R&amp;D``; a note that says ``&amp;`` reads ``&amp;``). Driven by the rules,
no server. And the templates ship in the package."""

from __future__ import annotations

import tomllib
import uuid
from datetime import UTC, datetime
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

from bpo.evidence_check import Pinned
from bpo.qbr import Quarter, render_qbr
from bpo.report import render_report
from models.commands import Pause, RaidAdd, RaidClose, Reject, Resume
from models.plan import Plan
from models.tables import AuditRecord
from tests.rules.sim import GOOD, LI, RAJ, Run

SCRIPT = "<script>alert('owned')</script>"
NAME = f'R&D "North" {SCRIPT}'
NOTE = f"caught &amp; fixed {SCRIPT}"


class Page(HTMLParser):
    """The page as a browser reads it: its tags, and its text with every reference resolved once."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.texts += [value for _, value in attrs if value]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def nasty(plan: Plan) -> Plan:
    """``plan`` with markup in its names and in a KPI's name and unit."""
    kpis = [
        k.model_copy(update={"name": f"CSAT {NAME}", "unit": "% & <b>"}) if k.key == "csat" else k for k in plan.kpis
    ]
    return plan.model_copy(
        update={"name": NAME, "client": f"Client {NAME}", "provider": f"Provider {NAME}", "kpis": kpis}
    )


def records(run: Run) -> list[AuditRecord]:
    """The run's audit trail as the database hands it back."""
    return [
        AuditRecord(
            id=uuid.uuid4(),
            event_id=a.id,
            transition_id=a.transition_id,
            kind=a.kind,
            phase=a.phase,
            gate=a.gate,
            actor=a.actor,
            at=a.at,
            detail=a.detail,
            via=a.via,
        )
        for a in run.audit
    ]


def a_run_with_markup_in_its_notes() -> Run:
    run = Run()
    run.read("W1", **{**GOOD, "csat": 70.0})
    run.do(Reject(gate="gap_analysis_approved", by=LI, reason=f"rejected: {NOTE}"))
    run.do(Resume(by=LI, reason="talked it over"))
    run.do(RaidAdd(kind="risk", title=f"Risk {NOTE}", owner=RAJ, by=LI))
    run.do(RaidAdd(kind="issue", title="Settled", owner=RAJ, by=LI))
    run.do(RaidClose(item="I-2", note=f"closed: {NOTE}", by=LI))
    run.do(Pause(by=LI, reason=f"paused: {NOTE}"))
    return run


def assert_shown_as_written(html: str, *written: str) -> None:
    page = Page(html)
    assert page.tags.count("script") == 0, "markup from a plan or a note became a tag"
    for text in written:
        assert text in page.text, f"{text!r} is not on the page as written"
    assert "&amp;amp;D" not in html and "R&D" not in html, "R&D is escaped exactly once"


def test_the_report_shows_names_notes_and_evidence_with_markup_as_text_escaped_once():
    run = a_run_with_markup_in_its_notes()
    evidence = [Pinned(at=run.now, gate="kickoff_held", by=LI, evidence=f"MIN-7 {NOTE}", sha256="ab" * 32, size=10)]
    html = render_report(nasty(run.machine.plan), run.status(), records(run), run.now, evidence)
    assert_shown_as_written(
        html,
        NAME,
        f"Client {NAME}",
        f"rejected: {NOTE}",
        f"Risk {NOTE}",
        f"closed: {NOTE}",
        f"MIN-7 {NOTE}",
        f"CSAT {NAME} (csat)",  # the chart's caption
        f"CSAT {NAME} against its SLA",  # the chart's own label, inside the SVG
        "70 % & <b>",  # a reading's tooltip in the chart, with the KPI's unit
    )
    assert "caught &amp;amp; fixed" in html, "a note's own '&amp;' is text, escaped once"


def test_the_qbr_pack_shows_names_notes_and_raid_titles_with_markup_as_text_escaped_once():
    run = a_run_with_markup_in_its_notes()
    html = render_qbr(nasty(run.machine.plan), run.status(), records(run), Quarter(2027, 1), run.now)
    assert_shown_as_written(
        html, f"Business review 2027-Q1: {NAME}", f"Provider {NAME}", f"Risk {NOTE}", f"CSAT {NAME}"
    )
    assert datetime(2027, 1, 1, tzinfo=UTC) <= run.now < datetime(2027, 4, 1, tzinfo=UTC), "the quarter holds the run"


def test_every_report_template_ships_in_the_package_so_an_installed_bpo_report_finds_it():
    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["bpo"]
    templates = [p.relative_to(root / "bpo").as_posix() for p in (root / "bpo" / "templates").iterdir()]
    assert templates, "the reports' templates are in bpo/templates"
    assert [t for t in templates if not any(fnmatch(t, g) for g in globs)] == []
