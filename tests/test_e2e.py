"""End to end: the real dev server, a real worker and the real `bpo` command, nothing else."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.binaries import find_binary
from models.plan import Plan
from tests.conftest import REFERENCE_PLAN
from tests.stack import DANA, EVE, LI, RAJ, Stack, drive_to_pilot, pass_hypercare, short_plan, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request):
    """The audit trail on the default SQLite file, then on a real PostgreSQL server."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else None


def test_reference_plan_runs_to_steady_state_through_the_bpo_command(audit_url, stack: Stack, hook, tmp_path: Path):
    s, (_, received) = stack, hook
    tid = s.ok("start", str(short_plan(tmp_path))).strip()
    assert tid == "acme-tier-1-support-to-northstar-bpo"
    again = s.bpo("start", str(short_plan(tmp_path)))
    assert again.returncode == 2 and "already exists" in again.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text(short_plan(tmp_path).read_text().replace("due: 14d", "due: 14 days", 1))
    wrong = s.bpo("amend", tid, str(bad), "--reason", "more time", "--by", LI)
    assert wrong.returncode == 2 and "phases[0].due: '14 days' is not a duration" in wrong.stderr
    longer = tmp_path / "longer.yaml"
    longer.write_text(short_plan(tmp_path).read_text().replace("due: 30d", "due: 45d", 1))
    proposed = s.ok("amend", tid, str(longer), "--reason", "more time for training", "--by", LI)
    assert "phase knowledge_transfer: due 30d -> 45d" in proposed and "amendment_1 proposed" in proposed
    s.ok("reject", tid, "amendment_1", "--by", DANA, "--reason", "keep the dates")

    refused = s.bpo("approve", tid, "slas_signed", "--by", EVE)
    assert refused.returncode == 2 and "needs one of the roles executive_sponsor, transition_lead" in refused.stderr
    drive_to_pilot(s, tid)
    assert s.status(tid)["phase"] == "pilot"

    s.ok("kpi", tid, "--by", LI, "--period", "2027-W09", "csat=91", "error_rate=1.2", "first_response_hours=3.5")
    s.ok("kpi", tid, "--by", LI, "--period", "2027-W10", "csat=89", "error_rate=1.4", "first_response_hours=3")
    status = s.status(tid)
    assert next(g for g in status["gates"] if g["key"] == "pilot_kpis_met")["status"] == "passed"
    title = "Agree the go-live communications"
    opened = s.ok(
        "raid", tid, "add", "--kind", "action", "--title", title, "--owner", RAJ, "--blocks", "pilot_go", "--by", LI
    )
    assert opened.strip() == "A-1 opened"
    s.ok("approve", tid, "pilot_go", "--by", DANA, "--note", "pilot signed off")
    gate = next(g for g in s.status(tid)["gates"] if g["key"] == "pilot_go")
    assert gate["status"] == "open" and gate["blocked_by"] == ["A-1"], "the open action holds the signed gate"
    unknown = s.bpo("raid", tid, "close", "A-9", "--by", RAJ, "--note", "done")
    assert unknown.returncode == 2 and "no RAID item 'A-9'" in unknown.stderr
    s.ok("raid", tid, "close", "A-1", "--by", RAJ, "--note", "comms agreed with the client")
    assert "closed" in s.ok("raid", tid, "list") and "A-1" in s.ok("raid", tid, "list", "--json")
    s.wait_for(tid, lambda st: st["phase"] == "ramp")  # after the shortened min_duration

    for wave in (1, 2, 3):
        assert s.status(tid)["wave"] == wave
        s.ok("kpi", tid, "--by", LI, "--period", f"ramp-{wave}", "csat=90", "error_rate=1.5", "first_response_hours=3", "fcr=75")
        s.ok("approve", tid, "wave_approved", "--by", LI)
        s.ok("approve", tid, "wave_approved", "--by", RAJ)
    assert s.status(tid)["phase"] == "hypercare"

    pass_hypercare(s, tid)
    status = s.wait_for(tid, lambda st: st["phase"] == "steady_state")
    assert (status["state"], status["health"], status["reworks"]) == ("running", "on_track", 0)

    # The search attributes follow the decision's flush, and visibility follows them.
    listed = wait_until(lambda: json.loads(s.ok("list", "--phase", "steady_state", "--json")), 10)
    assert [t["id"] for t in listed] == [tid]

    trail = json.loads(s.ok("audit", tid, "--json"))
    kinds = [row["kind"] for row in trail]
    assert kinds.count("phase_passed") == 6
    assert kinds.count("approved") == 16 and kinds.count("ticked") == 10 and kinds.count("kpi_reading") == 8
    approval = next(r for r in trail if r["kind"] == "approved" and r["gate"] == "gap_analysis_approved")
    assert (approval["actor"], approval["detail"]["note"]) == (LI, "gap analysis v3 accepted")

    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("period,metric,value\n2027-09,csat,91\n2027-09,csat_score,80\n2027-09,error_rate,abc\n")
    done = s.bpo("kpi", tid, "--by", LI, "--file", str(bad_csv))
    assert done.returncode == 2
    assert "bad.csv:3:" in done.stderr and "bad.csv:4:" in done.stderr and "bad.csv:2:" not in done.stderr
    unknown_csv = tmp_path / "unknown.csv"
    unknown_csv.write_text("period,metric,value\n2027-09,csat,91\n2027-09,satisfaction,80\n")
    done = s.bpo("kpi", tid, "--by", LI, "--file", str(unknown_csv))
    assert done.returncode == 2 and "unknown.csv:3: unknown metric 'satisfaction'" in done.stderr
    month = tmp_path / "month.csv"
    month.write_text("period,metric,value\n2027-W36,csat,91\n2027-W36,error_rate,2.6\n2027-W37,csat,90\n")
    assert "recorded 3 reading(s) for 2 period(s)" in s.ok("kpi", tid, "--by", LI, "--file", str(month))
    trail = json.loads(s.ok("audit", tid, "--json"))
    # each row also carries its flush's mark (`flush`: a hash, docs/trust.md), which says nothing here
    readings = [{k: v for k, v in r["detail"].items() if k != "flush"} for r in trail if r["kind"] == "kpi_reading"]
    assert all("flush" in r["detail"] for r in trail if r["kind"] == "kpi_reading")
    assert readings[-2:] == [
        {"period": "2027-W36", "values": {"csat": 91.0, "error_rate": 2.6}, "operator": "e2e-operator"},
        {"period": "2027-W37", "values": {"csat": 90.0}, "operator": "e2e-operator"},
    ]
    breach = [r for r in trail if r["kind"] == "sla_breach"]
    assert [(b["detail"]["kpi"], b["detail"]["value"]) for b in breach] == [("error_rate", 2.6)]
    assert "Steady-state governance" in s.ok("status", tid)

    def webhooks() -> list[str]:
        return [r["body"]["subject"] for r in received]

    s.wait_for(tid, lambda _: any("Steady-state governance begins" in subject for subject in webhooks()))
    assert sum("begins" in subject for subject in webhooks()) >= 7
    s.wait_for(tid, lambda _: any("SLA breach: Error rate" in subject for subject in webhooks()))
    ids = [r["body"]["id"] for r in received]
    assert len(ids) == len(set(ids))
    assert all(r["headers"]["Idempotency-Key"] == r["body"]["id"] for r in received)
    # The worker logs each decision as an event a log search finds by name, the workflow beside it.
    logged = [json.loads(line) for line in (s.data_dir / "worker.log").read_text().splitlines() if "decision" in line]
    decided = [line for line in logged if line.get("temporal_workflow", {}).get("workflow_id") == tid]
    assert len(decided) >= 20 and {line["event"] for line in decided} == {"decision"}, decided[:1]
    assert {line["command"] for line in decided} >= {"Approve", "Tick", "RecordReadings"}


def test_bad_input_at_the_command_line_exits_2_and_changes_nothing(stack: Stack, tmp_path: Path):
    s = stack
    tid = s.ok("start", str(short_plan(tmp_path)), "--id", "acme-bad-input").strip()
    s.ok("approve", tid, "gap_analysis_approved", "--by", LI)
    before = s.status(tid)
    injected = tmp_path / "injected.csv"
    injected.write_text('period,metric,value\n=cmd|"/c calc"!A1,csat,90\n2027-09,csat,"=1+1"\n')
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"period,metric,value\n" + b"2027-09,csat,90\n" * 200_000)
    for args, message in [
        (("kpi", tid, "--by", LI, "--period", "W1", "csat=ninety"), "csat: 'ninety' is not a number"),
        (("kpi", tid, "--by", LI, "--period", "W1", "csat=nan"), "finite"),
        (("kpi", tid, "--by", LI, "--period", "W1", "csat=-3"), "negative"),
        (("kpi", tid, "--by", LI, "--period", "W1", "csat=1e999"), "finite"),
        (("kpi", tid, "--by", LI, "--period", "W1", "satisfaction=90"), "unknown metric 'satisfaction'"),
        (("kpi", tid, "--by", LI, "--period", "=HYPERLINK()", "csat=90"), "--period"),
        (("kpi", tid, "--by", LI, "--period", "W1", "csat"), "is not METRIC=VALUE"),
        (("kpi", tid, "--by", LI, "--file", str(injected)), "injected.csv:2:"),
        (("kpi", tid, "--by", LI, "--file", str(huge)), "larger than 2 MiB"),
        (("kpi", tid, "--by", LI, "--file", "/dev/zero"), "larger than 2 MiB"),
        (("approve", tid, "no_such_gate", "--by", LI), "unknown gate 'no_such_gate'"),
        (("approve", tid, "slas_signed", "--by", "nobody@example"), "not on the roster"),
        (("approve", tid, "slas_signed", "--by", "dana\x07@acme.example"), "--by"),
        (("approve", tid, "slas_signed", "--by", "Dänä@acme.example"), "not on the roster"),
        (("approve", tid, "gap_analysis_approved", "--by", LI), "is passed, not open"),
        (("tick", tid, "governance_defined", "lunch", "--by", LI), "unknown item 'lunch'"),
        (("approve", "no-such-transition", "gap_analysis_approved", "--by", LI), "no transition with id"),
        (("approve", tid, "slas_signed", "--by", DANA, "--note", "x" * 100_000), "--note"),
        (("reject", tid, "slas_signed", "--by", DANA, "--reason", ""), "--reason"),
        (("status", "bad id with spaces"), "is not a transition id"),
        (("status", "a" * 5000), "is not a transition id"),
        (("list", "--phase", "pilot' OR WorkflowType != '"), "not a name to filter on"),
        (("start", "/dev/zero"), "larger than 512 KiB"),
        (("start", str(tmp_path)), "cannot read"),
        (("approve", tid, "slas_signed"), "--by"),
        (("approve", tid, "governance_defined", "--by", LI), "hint: approve approval gates; tick a checklist"),
        (("roster", tid, "--add", "sam@acme.example", "--role", "sme", "--by", LI), "needs --name"),
        (("roster", tid, "--remove", "nobody@acme.example", "--by", LI), "not on the roster"),
    ]:
        done = s.bpo(*args)
        assert done.returncode == 2, (args[:4], done.stderr[-500:])
        assert message in done.stderr, (args[:4], done.stderr[-500:])
        assert "Traceback" not in done.stderr
    assert s.status(tid)["gates"] == before["gates"]
    trail = json.loads(s.ok("audit", tid, "--json"))
    assert not [r for r in trail if r["kind"] == "kpi_reading"]

    added = s.ok("roster", tid, "--add", "sam@acme.example", "--name", "Sam Ode", "--role", "sme", "--by", LI)
    assert added.startswith(f"roster of {tid}: added sam@acme.example (sme)")
    assert "removed sam@acme.example" in s.ok("roster", tid, "--remove", "sam@acme.example", "--by", LI)
    refused = s.bpo("escalate", tid, "--by", LI, "--reason", "stuck", "--level", "9")
    assert refused.returncode == 2 and "there is no level 9" in refused.stderr
    assert "escalate accepted" in s.ok("escalate", tid, "--by", LI, "--reason", "legal has not answered")
    assert [e["level"] for e in s.status(tid)["escalations"]] == [1]
    changes = [r["detail"] for r in json.loads(s.ok("audit", tid, "--json")) if r["kind"] == "roster_changed"]
    assert [(c["added"], c["removed"]) for c in changes] == [(["sam@acme.example"], []), ([], ["sam@acme.example"])]

    for name, text, message in [
        ("tagged.yaml", "name: !!python/object/apply:os.system [id]\n", "not valid YAML"),
        ("include.yaml", "name: x\nclient: !include /etc/passwd\n", "not valid YAML"),
        (
            "broken.yaml",
            REFERENCE_PLAN.read_text().replace(
                "metrics: [csat, error_rate, first_response_hours]", "metrics: [csat_score]"
            ),
            "phases[3].gates[0].metrics[0]: unknown KPI 'csat_score'",
        ),
        ("control.yaml", "name: \x1b[31mred\n", "not valid YAML"),
    ]:
        plan = tmp_path / name
        plan.write_text(text)
        for command in ("validate", "start"):
            done = s.bpo(command, str(plan))
            assert done.returncode == 2 and message in done.stderr, (name, done.stderr[-300:])


def test_no_server_is_exit_1_with_a_message(tmp_path: Path):
    s = Stack(tmp_path)
    done = s.bpo("status", "anything")
    assert done.returncode == 1 and "cannot reach Temporal" in done.stderr


def test_bpo_amend_finds_the_plan_files_problems_before_it_asks_a_server(tmp_path: Path):
    broken = tmp_path / "v2.yaml"
    broken.write_text(REFERENCE_PLAN.read_text().replace("rule: all", "rule: every", 1))
    done = Stack(tmp_path).bpo("amend", "anything", str(broken), "--reason", "r", "--by", "li@acme.example")
    assert done.returncode == 2 and "rule" in done.stderr and "cannot reach Temporal" not in done.stderr


def test_bpo_amend_keeps_a_reserved_gate_key_the_running_plan_has_and_refuses_a_new_one(stack: Stack, tmp_path: Path):
    # A plan accepted before the 'amendment_' prefix was kept, started straight through Temporal
    # as the old `bpo start` did.
    s = stack
    gate = "      - key: gap_analysis_approved\n        kind: approval\n        approvers: {roles: [program_manager]}\n"
    review = gate + gate.replace("gap_analysis_approved", "amendment_review")
    text = REFERENCE_PLAN.read_text().replace(gate, review, 1)
    plan = Plan.model_validate(yaml.safe_load(text)).model_dump(mode="json")
    start = {"id": "old-review", "plan": plan, "started_by": "e2e-operator"}
    subprocess.run(
        [find_binary("temporal"), "workflow", "start", "--address", f"{s.ip}:{s.port}", "-t", "e2e",
         "--type", "Transition", "-w", "old-review", "--input", json.dumps(start)],
        check=True, capture_output=True,
    )  # fmt: skip
    s.wait_for("old-review", lambda st: any(g["key"] == "amendment_review" for g in st["gates"]))
    s.ok("approve", "old-review", "amendment_review", "--by", LI)

    longer = tmp_path / "longer.yaml"
    longer.write_text(text.replace("    due: 14d\n", "    due: 21d\n", 1))
    assert "amendment_1 proposed" in s.ok("amend", "old-review", str(longer), "--reason", "more time", "--by", LI)
    another = tmp_path / "another.yaml"
    another.write_text(text.replace(gate, gate + gate.replace("gap_analysis_approved", "amendment_extra"), 1))
    refused = s.bpo("amend", "old-review", str(another), "--reason", "r", "--by", LI)
    assert refused.returncode == 2 and "gate key 'amendment_extra' starts with 'amendment_'" in refused.stderr
    assert "amendment_review" not in refused.stderr
