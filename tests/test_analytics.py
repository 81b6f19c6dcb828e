"""The portfolio's analytics, worked out from audit rows written through the writer, on SQLite
and PostgreSQL, against figures worked out by hand (in the comments)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

import starter
from infra.analytics import analytics
from infra.audit import write_entries
from infra.db import make_engine
from infra.settings import get_settings
from models.analytics import AnalyticsFilter, PersonFacts, PlanFacts, PlannedPhase, p90
from models.deliveries import AuditEntry

T1, T2, T3 = (
    datetime(2027, 1, 4, 9, tzinfo=UTC),
    datetime(2027, 2, 1, 9, tzinfo=UTC),
    datetime(2027, 3, 1, 9, tzinfo=UTC),
)
NOW = T2 + timedelta(hours=100)
DANA, RAJ, LEE, ANN = "dana@acme.example", "raj@north.example", "lee@south.example", "ann@globex.example"


def trail(tid: str, start: datetime, rows: list[tuple[float, str, dict[str, Any]]]) -> list[AuditEntry]:
    """Rows of one transition: (hours after ``start``, kind, columns and detail)."""
    out = []
    for n, (hours, kind, extra) in enumerate(rows, 1):
        columns = {k: extra.pop(k) for k in ("phase", "gate", "actor") if k in extra}
        out.append(
            AuditEntry(
                id=f"{tid}/{n}", transition_id=tid, kind=kind, phase=columns.pop("phase", "discovery"),
                at=start + timedelta(hours=hours), detail=extra, **columns,
            )
        )  # fmt: skip
    return out


def portfolio() -> list[AuditEntry]:
    pilot = {"phase": "pilot"}
    acme1 = trail("acme-1", T1, [
        (0, "transition_started", {"plan": "Acme"}),
        (0, "phase_started", {"attempt": 1, "name": "Discovery"}),
        (10, "approved", {"gate": "contract_signed", "actor": DANA}),   # dana 10h
        (30, "approved", {"gate": "contract_signed", "actor": RAJ}),    # raj 30h
        (30, "gate_passed", {"gate": "contract_signed"}),               # gate 30h
        (30, "phase_passed", {"attempt": 1}),                           # discovery run 30h
        (30, "phase_started", {**pilot, "attempt": 1, "name": "Pilot"}),
        (40, "rejected", {**pilot, "gate": "pilot_ok", "actor": DANA, "note": "=cmd"}),  # dana 10h, gate 10h
        (40, "phase_started", {"attempt": 2, "name": "Discovery"}),     # a rework; pilot run 10h
        (44, "approved", {"gate": "contract_signed", "actor": DANA}),   # dana 4h, gate 4h
        (44, "gate_passed", {"gate": "contract_signed"}),
        (44, "phase_passed", {"attempt": 2}),                           # discovery 30h + 4h = 34h
        (44, "phase_started", {**pilot, "attempt": 2, "name": "Pilot"}),
        (50, "paused", {**pilot, "actor": DANA}),
        (54, "resumed", {**pilot, "actor": DANA}),                      # paused 4h
        (60, "escalation", {**pilot, "level": 1}),
        (64, "waived", {**pilot, "gate": "pilot_ok", "actor": DANA}),   # dana 20h, gate 20h
        (64, "phase_passed", {**pilot, "attempt": 2}),                  # pilot 10h + 20h = 30h
        (64, "phase_started", {"phase": "steady_state", "attempt": 1}), # go-live at 64h
    ])  # fmt: skip
    acme2 = trail("acme-2", T2, [
        (0, "transition_started", {"plan": "Acme 2"}),
        (0, "phase_started", {"attempt": 1, "name": "Discovery"}),
        (2, "approved", {"gate": "contract_signed", "actor": DANA}),    # dana 2h
        (6, "approved", {"gate": "contract_signed", "actor": LEE}),     # lee 6h
        (6, "gate_passed", {"gate": "contract_signed"}),                # gate 6h
        (6, "phase_passed", {"attempt": 1}),                            # discovery 6h
        (6, "phase_started", {**pilot, "attempt": 1, "name": "Pilot"}), # pilot_ok waits from 6h: 94h by NOW
    ])  # fmt: skip
    globex = trail("globex-1", T3, [
        (0, "transition_started", {"plan": "Globex"}),
        (0, "phase_started", {"attempt": 1, "name": "Discovery"}),
        (8, "approved", {"gate": "contract_signed", "actor": ANN}),     # ann 8h
        (8, "gate_passed", {"gate": "contract_signed"}),                # gate 8h
        (8, "phase_passed", {"attempt": 1}),                            # discovery 8h
    ])  # fmt: skip
    return acme1 + acme2 + globex


PHASES = {
    "discovery": PlannedPhase(name="Discovery", planned_hours=24, gates=["contract_signed"]),
    "pilot": PlannedPhase(name="Pilot", planned_hours=48, gates=["pilot_ok"]),
}
PEOPLE = {
    DANA: PersonFacts(roles=["executive_sponsor"], org="client"),
    RAJ: PersonFacts(roles=["transition_lead"], org="provider"),
    LEE: PersonFacts(roles=["transition_lead"], org="provider"),
}
FACTS = {
    "acme-1": PlanFacts(
        client="Acme", provider="North", phases=PHASES, go_live=T1 + timedelta(hours=72), people=PEOPLE
    ),
    "acme-2": PlanFacts(client="Acme", provider="South", phases=PHASES, people=PEOPLE),
}


@pytest.fixture
def written(engine):
    with Session(engine) as session:
        write_entries(portfolio(), session=session)
    return engine


def by(found, kind: str, key: str):
    return next(t.spread for t in found.turnaround if (t.by, t.key) == (kind, key))


def test_every_figure_of_a_recorded_portfolio_matches_the_hand_worked_one(written):
    found = analytics(written, AnalyticsFilter(), FACTS, NOW)
    phases = {p.key: p for p in found.phases}
    # discovery took 34h, 6h, 8h: median 8h, p90 (3rd of 3) 34h; planned 24h where known: one of two on time
    assert (phases["discovery"].actual.median_hours, phases["discovery"].actual.p90_hours) == (8, 34)
    assert (phases["discovery"].planned.median_hours, phases["discovery"].on_time_share) == (24, 0.5)
    assert (phases["pilot"].actual.count, phases["pilot"].actual.median_hours, phases["pilot"].on_time_share) == (
        1,
        30,
        1,
    )
    assert phases["pilot"].name == "Pilot"
    # contract_signed settled after 30h, 4h, 6h, 8h: median 7h, p90 (4th of 4) 30h
    assert (by(found, "gate", "contract_signed").median_hours, by(found, "gate", "contract_signed").p90_hours) == (
        7,
        30,
    )
    assert by(found, "gate", "pilot_ok").model_dump() == {"count": 2, "median_hours": 15, "p90_hours": 20}
    assert by(found, "person", DANA).model_dump() == {"count": 5, "median_hours": 10, "p90_hours": 20}
    assert by(found, "role", "executive_sponsor") == by(found, "org", "client") == by(found, "person", DANA)
    assert by(found, "org", "provider").model_dump() == {"count": 2, "median_hours": 18, "p90_hours": 30}
    assert by(found, "person", ANN).median_hours == 8 and not any(
        t.key == ANN for t in found.turnaround if t.by == "role"
    )
    [waiting] = found.waiting
    assert (waiting.transition_id, waiting.gate, waiting.waited_hours) == ("acme-2", "pilot_ok", 94)
    first = next(t for t in found.transitions if t.transition_id == "acme-1")
    assert (first.reworks, first.escalations, first.waivers, first.pauses, first.paused_hours) == (1, 1, 1, 1, 4)
    assert (first.go_live, first.go_live_late_days) == (T1 + timedelta(hours=64), round(-8 / 24, 2))
    assert any("globex-1" in m for m in found.missing)


def test_a_client_a_program_and_dates_choose_the_transitions(written):
    acme = analytics(written, AnalyticsFilter(client="Acme"), FACTS, NOW)
    assert [t.transition_id for t in acme.transitions] == ["acme-1", "acme-2"]
    assert next(p for p in acme.phases if p.key == "discovery").actual.median_hours == 20  # 34h and 6h
    assert any("globex-1" in m for m in acme.missing), "a transition without its plan is said to be left out"
    south = analytics(written, AnalyticsFilter(provider="South"), FACTS, NOW)
    assert [t.transition_id for t in south.transitions] == ["acme-2"]
    since = analytics(written, AnalyticsFilter(since=T2.date(), until=T2.date()), FACTS, NOW)
    assert [t.transition_id for t in since.transitions] == ["acme-2"]
    assert (
        analytics(written, AnalyticsFilter(program="acme"), FACTS, NOW).transitions == []
    )  # acme-1 is no workstream of acme


def test_a_program_covers_its_workstreams_and_nothing_that_merely_shares_its_name(engine):
    rows = [
        *trail("prog", T1, [(0, "transition_started", {})]),
        *trail("prog/email", T1, [(0, "transition_started", {}), (0, "phase_started", {"name": "Discovery"})]),
        *trail("prog_x/email", T1, [(0, "transition_started", {})]),
        *trail("progress", T1, [(0, "transition_started", {})]),
    ]
    with Session(engine) as session:
        write_entries(rows, session=session)
    found = analytics(engine, AnalyticsFilter(program="prog"), {}, NOW)
    assert [t.transition_id for t in found.transitions] == ["prog", "prog/email"]
    assert analytics(engine, AnalyticsFilter(program="prog_"), {}, NOW).transitions == []


def test_p90_is_a_value_seen_at_the_nearest_rank():
    assert (p90(list(range(1, 11))), p90([1, 2, 3]), p90([5]), p90([])) == (9, 3, 5, None)


def test_the_filter_refuses_dates_out_of_order():
    with pytest.raises(ValueError, match="before since"):
        AnalyticsFilter(since=T2.date(), until=T1.date())


@pytest.fixture
def bpo(monkeypatch, tmp_path: Path, capsys):
    """``bpo ARGS...`` in this process over a SQLite trail, no Temporal listening."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("BPO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        get_settings.cache_clear()
        try:
            code = starter.main(list(args))
        finally:
            get_settings.cache_clear()
        said = capsys.readouterr()
        return code, said.out, said.err

    return run


def test_bpo_analytics_reads_the_trail_without_temporal_and_says_the_plans_are_unknown(bpo, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with Session(engine) as session:
        write_entries(portfolio(), session=session)
    code, out, _ = bpo("analytics", "--json")
    assert code == 0
    found = json.loads(out)
    assert [t["transition_id"] for t in found["transitions"]] == ["acme-1", "acme-2", "globex-1"]
    assert found["transitions"][0]["reworks"] == 1 and found["waiting"] == []
    assert "Temporal could not be reached" in found["missing"][0]
    code, out, _ = bpo("analytics", "--program", "acme-1")
    assert code == 0 and "discovery  Discovery  1" in out and "globex" not in out
    code, _, err = bpo("analytics", "--client", "Acme")
    assert code == 1 and "--client and --provider are the plan's" in err and "Traceback" not in err
    code, _, err = bpo("analytics", "--since", "last week")
    assert code == 2 and "--since: 'last week' is not a date" in err and "a duration ago (30d, 2w)" in err
    code, out, _ = bpo("analytics", "--since", "3650d", "--json")  # a duration looks back from now
    assert code == 0 and len(json.loads(out)["transitions"]) == 3
    code, out, _ = bpo("analytics", "--until", "3650d", "--json")  # ...ten years ago: none yet
    assert code == 0 and json.loads(out)["transitions"] == []


def test_bpo_analytics_never_makes_an_audit_database(bpo, tmp_path):
    code, _, err = bpo("analytics")
    assert code == 1 and "there is no audit database" in err
    assert not (tmp_path / "audit.db").exists()


def test_a_trail_the_rules_wrote_reads_against_its_plan(engine):
    from bpo.analytics import facts_of
    from tests.rules.sim import LI as LEAD
    from tests.rules.sim import PLAN, START, Run

    run = Run()
    run.later(hours=24)
    run.approve("gap_analysis_approved", LEAD)
    run.later(hours=48)
    run.approve("slas_signed", DANA, "raj@northstar.example")
    run.tick("governance_defined", LEAD, "raci", "escalation_matrix", "communication_protocol", "knowledge_base")
    with Session(engine) as session:
        write_entries(run.audit, session=session)
    facts = facts_of(PLAN, START)
    # the plan's phases back to back from its starts_on (midnight UTC): 14 + 10 + 30 + 56 + 60 + 45 days
    starts = datetime.combine(PLAN.starts_on, datetime.min.time(), tzinfo=UTC)
    assert (facts.phases["planning"].planned_hours, facts.go_live) == (14 * 24, starts + timedelta(days=215))
    found = analytics(engine, AnalyticsFilter(client=PLAN.client), {"t-1": facts}, run.now + timedelta(hours=5))
    [planning] = [p for p in found.phases if p.key == "planning"]
    assert (planning.name, planning.actual.median_hours, planning.on_time_share) == ("Strategic planning", 72, 1)
    assert by(found, "gate", "gap_analysis_approved").median_hours == 24
    assert by(found, "role", "program_manager").count == 2  # Li's approval and her ticks, each counted once
    assert {w.gate for w in found.waiting} >= {"kickoff_held"} and found.waiting[0].waited_hours == 5
