"""The simulation drill at CI size: a few simulations of the reference plan, each with a deadline,
and a run that hangs caught with a dump of where it stood. `make drill-simulate` runs 40."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drill_simulate import run

pytestmark = pytest.mark.e2e


def test_the_reference_plan_simulated_again_and_again_always_finishes(tmp_path: Path):
    tally = run(tmp_path, runs=3, deadline=60)
    assert tally.hung == [] and tally.failed == [], tally.summary()
    assert len(tally.seconds) == 3


def test_a_run_past_its_deadline_counts_as_hung_and_leaves_a_dump_of_its_tasks(tmp_path: Path):
    stuck = tmp_path / "stuck.py"
    stuck.write_text(
        "import asyncio\n\nasync def waits_for_a_clock_that_never_moves():\n"
        "    await asyncio.sleep(3600)\n\nasyncio.run(waits_for_a_clock_that_never_moves())\n"
    )
    tally = run(tmp_path / "dumps", runs=1, deadline=2, argv=[str(stuck)])
    assert tally.seconds == [] and len(tally.hung) == 1
    dump = tally.hung[0].read_text()
    assert "did not finish in 2 s" in dump and "waits_for_a_clock_that_never_moves" in dump
