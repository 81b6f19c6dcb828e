"""`bpo simulate` of a program: each workstream's start and go-live, the program's go-live and the
critical path, as a user reads them for examples/program-plan.yaml; a plan without workstreams
forecast as before."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

from bpo.simulate_program import forecast_program, program_text
from models.plan_loader import load_plan, parse_plan
from tests.conftest import REFERENCE_PLAN, ROOT
from tests.stack import BPO
from tests.test_simulate import rules_alone

PROGRAM_PLAN = ROOT / "examples" / "program-plan.yaml"


def program_with(old: str, new: str):
    text = PROGRAM_PLAN.read_text()
    assert old in text, old
    return parse_plan(text.replace(old, new, 1), env={}).plan


def bpo_simulate(*args: str) -> str:
    done = subprocess.run([*BPO, "simulate", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def row(text: str, key: str) -> list[str]:
    return next(line.split() for line in text.splitlines() if line.startswith(f"{key} "))


def test_bpo_simulate_forecasts_each_workstream_and_names_the_critical_path():
    facts = json.loads(bpo_simulate(str(PROGRAM_PLAN), "--json"))
    streams = {w["key"]: w for w in facts["workstreams"]}
    email_pilot = next(p for p in streams["email"]["phases"] if p["phase"] == "pilot")
    assert streams["chat"]["started"] == email_pilot["passed"], "chat starts once email has passed its pilot"
    assert streams["voice"]["started"] == streams["email"]["started"] < streams["chat"]["started"]
    assert streams["chat"]["waits_for"] == "email's pilot" and streams["email"]["waits_for"] is None
    for w in streams.values():  # a workstream goes live when its last phase passes
        assert w["go_live"] == w["phases"][-1]["passed"] and [p["phase"] for p in w["phases"]] == [
            "knowledge_transfer",
            "pilot",
            "hypercare",
        ]
    latest = max(w["go_live"] for w in streams.values())
    assert facts["go_live"] == latest == streams["chat"]["go_live"], "the program goes live with its latest workstream"
    assert facts["critical_path"] == ["email", "chat"]
    assert "history_events" not in facts, "no server measured a program's histories"

    text = bpo_simulate(str(PROGRAM_PLAN))
    day = latest[:10]
    assert row(text, "chat") == [
        "chat",
        email_pilot["passed"][:10],
        day,
        "email's",
        "pilot",
    ]
    assert row(text, "email")[3] == "-"
    assert f"Program go-live: {datetime.fromisoformat(latest):%a} {day}" in text
    assert "critical path: email → chat (chat waits for email's pilot)" in text
    assert "Go-live:  " in text and "transition" in text and "Steady state: 12 settlements" in text


def test_the_critical_path_follows_the_chain_that_holds_the_date():
    chained = program_with("    scope: [voice_support]\n", "    scope: [voice_support]\n    after: {chat: pilot}\n")
    f = forecast_program(chained)
    assert f.critical_path == ["email", "chat", "voice"]
    assert f.critical_path_text == (
        "critical path: email → chat → voice (chat waits for email's pilot; voice waits for chat's pilot)"
    )
    # voice, on its own and with a long pilot, holds the date instead: no one it waits for
    slow = program_with(
        "    scope: [voice_support]\n",
        "    scope: [voice_support]\n    phases:\n"
        "      - {key: pilot, name: Pilot, due: 200d, gates: [{key: pilot_kpis_met, kind: kpi, metrics: [csat], periods: 2}]}\n",
    )
    f = forecast_program(slow)
    voice = next(w for w in f.workstreams if w.key == "voice")
    assert f.go_live == voice.go_live and voice.go_live - voice.started > timedelta(days=99)
    assert f.critical_path == ["voice"] and f.critical_path_text == "critical path: voice"
    assert "critical path: voice\n" in program_text(f)


def test_late_decisions_forecast_each_workstreams_escalations_under_its_name():
    f = forecast_program(load_plan(PROGRAM_PLAN, env={}).plan, decide_at=1.5, years=0)
    assert any(" chat/pilot level 1" in e for e in f.escalations)
    assert any(" planning level 1" in e for e in f.escalations), "the program's own phases escalate unprefixed"
    assert all(p.passed and p.due and p.passed > p.due for w in f.workstreams for p in w.phases)
    assert f.settlements == 0


def test_the_forecast_is_the_same_each_time_and_a_plain_plan_arrives_where_the_rules_do():
    plan = load_plan(PROGRAM_PLAN, env={}).plan
    assert forecast_program(plan).model_dump(exclude={"seconds"}) == forecast_program(plan).model_dump(
        exclude={"seconds"}
    )
    reference = load_plan(REFERENCE_PLAN, env={}).plan
    start = datetime(2027, 1, 4, tzinfo=UTC)
    plain = forecast_program(reference, started=start)
    assert plain.go_live == rules_alone(reference, start, 0.5) and not plain.workstreams


def test_a_plan_without_workstreams_still_runs_on_the_time_skipping_server():
    facts = json.loads(bpo_simulate(str(REFERENCE_PLAN), "--json", "--years", "0"))
    assert facts["history_events"] > 0 and facts["runs"] >= 1, "measured on a server, as before"
    assert "workstreams" not in facts and "critical_path" not in facts


def test_a_workstream_that_can_never_pass_says_where_it_is_stuck_and_holds_the_program():
    stuck = program_with(
        "    after: {email: pilot}\n",
        "    after: {email: pilot}\n    phases:\n"
        "      - {key: setup, name: Setup, due: 21d, gates: [{key: team, kind: roster, requires: [training_lead]}]}\n",
    )
    f = forecast_program(stuck)
    text = program_text(f)
    assert f.go_live is None and f.stuck == "chat: setup: team (0/1 roles)"
    assert "Go-live:  never: chat: setup: team (0/1 roles)" in text
    assert row(text, "chat")[2:4] == ["never:", "setup:"]
    assert [w.go_live is not None for w in f.workstreams] == [True, False, True], "the others still go live"
    assert f.critical_path_text == "critical path: email → chat (chat waits for email's pilot); chat never goes live"
