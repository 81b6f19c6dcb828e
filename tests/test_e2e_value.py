"""Value realized end to end: the real dev server, a worker and the real `bpo` command record a
cost, and status, the report and the export show it against the plan's business case."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from tests.stack import DANA, LI, RAJ, Stack, short_plan, wait_until

pytestmark = pytest.mark.e2e


def valued_plan(folder: Path) -> Path:
    """The short reference plan with a baseline for CSAT and a business case in its credits' currency."""
    plan = yaml.safe_load(short_plan(folder).read_text())
    plan["kpis"][0]["baseline"] = 82
    plan["business_case"] = {"currency": "USD", "annual_savings": 1200000, "one_off_costs": 150000}
    path = folder / "valued.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_a_cost_recorded_with_bpo_cost_shows_in_status_and_in_the_costs_export(stack: Stack, tmp_path: Path):
    s = stack
    tid = s.ok("start", str(valued_plan(tmp_path))).strip()
    said = s.ok("cost", tid, "--amount", "1250.50", "--category", "travel", "--note", "=flights to Manila", "--by", DANA)
    assert said.startswith("cost accepted")
    cents = s.bpo("cost", tid, "--amount", "12.345", "--category", "travel", "--note", "x", "--by", DANA)
    assert cents.returncode == 2 and "amount: takes at most 2 decimal places" in cents.stderr, cents.stderr
    provider = s.bpo("cost", tid, "--amount", "10", "--category", "travel", "--note", "x", "--by", RAJ)
    assert provider.returncode == 2 and "may not record costs" in provider.stderr, provider.stderr

    value = s.status(tid)["value"]
    assert value["savings"]["costs"] == "1250.50" and value["savings"]["costs_by_category"] == {"travel": "1250.50"}
    assert value["savings"]["net_to_date"] == "-1250.50"  # not live yet: nothing saved, the cost spent
    assert [(k["key"], k["baseline"], k["target"], k["actual"]) for k in value["kpis"]] == [("csat", 82, 90, None)]
    s.ok("kpi", tid, "--by", LI, "--period", "2027-W01", "csat=87")
    text = s.ok("status", tid)
    assert "  csat: 82% → 90% → 87%  +5 (better)" in text
    assert "  Costs recorded (travel 1,250.50 USD): -1,250.50 USD" in text

    out = tmp_path / "costs.csv"

    def exported() -> list[dict[str, str]]:
        s.ok("export", tid, "--what", "costs", "--format", "csv", "--out", str(out))
        return list(csv.DictReader(out.open()))

    [row] = wait_until(exported, 20)
    assert (row["amount"], row["currency"], row["category"], row["by"]) == ("1250.5", "USD", "travel", DANA)
    assert row["note"] == "'=flights to Manila"  # a formula-looking note kept as text
