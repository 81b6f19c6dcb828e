"""The report, the QBR pack and the calendar name phases and gates as people read them (the
plan's ``name:``, else the key in words), and the timeline draws its lanes by name with planned
and actual bars told apart, a legend and a line at today. Driven by the rules, no server."""

from __future__ import annotations

from bpo.calendar import milestones
from bpo.qbr import Quarter, render_qbr
from bpo.report import COLOURS, PLANNED, TODAY, render_report, timeline_svg
from models.commands import Escalate, RaidAdd, Reject, Resume
from tests.rules.sim import DANA, LI, RAJ, Run, plan_with
from tests.test_report_templates import Page, records


def a_run_with_escalations_and_a_rework() -> Run:
    run = Run()
    run.do(RaidAdd(kind="action", title="Sign the SLAs", owner=RAJ, by=LI, blocks="slas_signed"))
    run.do(Escalate(by=LI, reason="legal is slow"))
    run.do(Reject(gate="gap_analysis_approved", by=LI, reason="needs another pass"))
    run.do(Resume(by=LI, reason="talked it over"))
    run.approve("gap_analysis_approved", LI)
    run.later(days=20)  # past the planning phase's due: its ladder fires on the gates still open
    return run


def test_the_report_names_phases_and_gates_and_never_shows_their_keys():
    run = a_run_with_escalations_and_a_rework()
    text = Page(render_report(run.machine.plan, run.status(), records(run), run.now)).text
    decisions = text.split("Gate decisions", 1)[1].split("Evidence pinned", 1)[0]
    assert "Strategic planning" in decisions and "Gap analysis approved" in decisions
    escalations = text.split("\nEscalations", 1)[1].split("Plan versions", 1)[0]
    assert "Strategic planning" in escalations and "Slas signed, Governance defined" in escalations
    assert "Slas signed" in text.split("RAID log", 1)[1], "the gate a RAID item holds"
    for key in ("gap_analysis_approved", "slas_signed", "governance_defined", "knowledge_transfer"):
        assert key not in text, f"{key} is shown as a key"


def test_the_qbr_pack_names_the_phase_of_an_escalation_and_the_gate_of_a_decision():
    run = a_run_with_escalations_and_a_rework()
    text = Page(render_qbr(run.machine.plan, run.status(), records(run), Quarter(2027, 1), run.now)).text
    assert "Strategic planning" in text.split("\nEscalations", 1)[1]
    assert "Gap analysis approved" in text.split("Decisions taken", 1)[1]
    assert "gap_analysis_approved" not in text


def test_a_gates_calendar_entry_is_named_for_the_gate():
    run = Run(plan_with("      - key: slas_signed\n", "      - key: slas_signed\n        due: 5d\n"))
    summaries = [summary for _, summary, _, _ in milestones(run.machine.plan, run.status(), run.now)]
    assert "Slas signed due" in summaries and "Strategic planning due" in summaries
    assert not any("slas_signed" in s for s in summaries)


def test_the_timeline_draws_lanes_by_name_planned_and_actual_apart_with_a_legend_and_today():
    run = Run()
    run.reach_pilot()
    run.do(Reject(gate="pilot_go", by=DANA, reason="not yet"))
    svg = str(timeline_svg(run.machine.plan, run.status(), [], run.now))
    page = Page(svg)
    assert "Training and knowledge transfer" in page.texts and "Steady-state governance" in page.texts
    assert "knowledge_transfer" not in page.text
    assert 'class="planned" x=' in svg and f'fill="{PLANNED}"' in svg
    assert PLANNED not in COLOURS.values(), "planned bars in a colour no actual bar has"
    assert f'fill="{COLOURS["reworked"]}"' in svg and f'fill="{COLOURS[None]}"' in svg
    for label in ("planned", "passed", "under way", "reworked", "paused", "today"):
        assert label in page.texts, f"the legend names {label}"
    assert 'class="today"' in svg and f'stroke="{TODAY}"' in svg


async def test_the_inbox_reads_a_transitions_names_from_its_plan_once_and_its_keys_in_words_without_it(monkeypatch):
    from bpo.errors import BpoError
    from bpo.web import plan_names
    from tests.rules.sim import PLAN

    asked: list[str] = []

    async def get_plan(client: object, transition_id: str):
        asked.append(transition_id)
        if transition_id == "gone":
            raise BpoError("no transition with id 'gone'", kind="UnknownTransition")
        return PLAN

    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    kept = plan_names.PlanNames()
    found = await kept.of(None, {"t-1": "", "gone": ""})  # type: ignore[arg-type]
    assert found["t-1"].phase("planning") == "Strategic planning" and found["t-1"].gate("slas_signed") == "Slas signed"
    assert found["gone"].phase("planning") == "Planning", "a plan that cannot be read: its keys in words"
    assert found["t-1"].phase("steady_state") == found["gone"].phase("steady_state") == "Steady-state governance"
    await kept.of(None, {"t-1": ""})  # type: ignore[arg-type]
    assert sorted(asked) == ["gone", "t-1"], "a known plan is not asked again"


async def test_names_read_once_are_kept_in_the_database_for_a_web_app_started_again(monkeypatch, tmp_path):
    import asyncio
    import time

    from bpo.web import plan_names
    from infra.db import make_engine
    from tests.rules.sim import PLAN

    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    asked: list[str] = []
    plan = PLAN

    async def get_plan(client: object, transition_id: str):
        asked.append(transition_id)
        return plan

    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    first = plan_names.PlanNames(engine)
    await first.of(None, {"t-1": ""})  # type: ignore[arg-type]
    await first._storing  # type: ignore[misc]
    assert asked == ["t-1"]
    # The web app starts again: its first page names the transition without asking Temporal.
    again = plan_names.PlanNames(engine, seconds=60)
    found = await again.of(None, {"t-1": ""})  # type: ignore[arg-type]
    assert asked == ["t-1"] and found["t-1"].phase("planning") == "Strategic planning"
    # Read long ago (an amendment may have renamed a phase since): answered as kept at once,
    # and read again behind the page, for the pages after it and the next start.
    plan = PLAN.model_copy(
        update={"phases": [PLAN.phases[0].model_copy(update={"name": "Planning, renamed"}), *PLAN.phases[1:]]}
    )
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 120)
    found = await again.of(None, {"t-1": ""})  # type: ignore[arg-type]
    assert found["t-1"].phase("planning") == "Strategic planning"
    await asyncio.gather(*again._reading.values())
    await again._storing  # type: ignore[misc]
    assert (
        asked == ["t-1", "t-1"] and (await again.of(None, {"t-1": ""}))["t-1"].phase("planning") == "Planning, renamed"
    )  # type: ignore[arg-type]
    assert (await plan_names.PlanNames(engine).of(None, {"t-1": ""}))["t-1"].phase("planning") == "Planning, renamed"  # type: ignore[arg-type]


async def test_a_page_waits_for_names_a_moment_at_most_and_they_arrive_behind_it(monkeypatch):
    import asyncio

    from bpo.web import plan_names
    from tests.rules.sim import PLAN

    slow = asyncio.Event()

    async def get_plan(client: object, transition_id: str):
        await slow.wait()  # a worker replaying thousands of transitions
        return PLAN

    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    kept = plan_names.PlanNames(wait=0.05)
    found = await kept.of(None, {"t-1": ""})  # type: ignore[arg-type]
    assert found["t-1"].phase("planning") == "Planning", "its keys in words this once"
    slow.set()
    await asyncio.gather(*kept._reading.values())
    found = await kept.of(None, {"t-1": ""})  # type: ignore[arg-type]
    assert found["t-1"].phase("planning") == "Strategic planning", "read behind the first page"
    assert not found["t-1"].lacks("planning", "slas_signed") and found["t-1"].lacks(None, "added_by_an_amendment")
