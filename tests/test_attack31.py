"""Attack 31 (branch ``attack31``): the web app's kept plan names. A workstream's id longer than
200 characters lost every name stored with it on PostgreSQL (and, as the same width held the
audit tables, its audit writes); names kept for an ended transition were shown for another
started under its id; a slow database held pages past their two seconds."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlmodel import Session

from bpo.web import plan_names
from infra.audit import read_trail, write_entries
from infra.db import make_engine
from models.deliveries import AuditEntry
from tests.rules.sim import PLAN

LONG = "p" * 200 + "/" + "w" * 40
"""A workstream's id as long as `models.constants.TRANSITION_ID` allows."""


def renamed(name: str):
    return PLAN.model_copy(update={"phases": [PLAN.phases[0].model_copy(update={"name": name}), *PLAN.phases[1:]]})


def test_a_workstream_with_the_longest_id_is_audited(engine):
    entry = AuditEntry(id=f"{LONG}/run/1", transition_id=LONG, kind="transition_started", phase="planning",
                       at=datetime.now(UTC))  # fmt: skip
    with Session(engine) as session:
        assert write_entries([entry], session=session) == 1
        assert [r.transition_id for r in read_trail(LONG, session=session)] == [LONG]


async def test_names_read_with_a_workstream_of_the_longest_id_are_kept_for_every_transition(engine, monkeypatch):
    asked: list[str] = []

    async def get_plan(client: object, transition_id: str):
        asked.append(transition_id)
        return PLAN

    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    first = plan_names.PlanNames(engine)
    await first.of(None, {"t-1": "r1", LONG: "r2"})  # type: ignore[arg-type]
    await first._storing  # type: ignore[misc]
    asked.clear()
    await plan_names.PlanNames(engine).of(None, {"t-1": "r1", LONG: "r2"})  # type: ignore[arg-type]
    assert asked == [], "names read once are not asked again after a restart"


async def test_names_of_an_ended_transition_are_not_shown_for_one_started_again_under_its_id(monkeypatch, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    plan = renamed("Old author's misleading phase")

    async def get_plan(client: object, transition_id: str):
        return plan

    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    kept = plan_names.PlanNames(engine)
    assert (await kept.of(None, {"acme": "run-1"}))["acme"].phase("planning") == "Old author's misleading phase"  # type: ignore[arg-type]
    await kept._storing  # type: ignore[misc]
    plan = renamed("Strategic planning")  # "acme" ended; another plan started under its id
    assert (await kept.of(None, {"acme": "run-2"}))["acme"].phase("planning") == "Strategic planning"  # type: ignore[arg-type]
    await kept._storing  # type: ignore[misc]
    restarted = plan_names.PlanNames(engine)
    assert (await restarted.of(None, {"acme": "run-2"}))["acme"].phase("planning") == "Strategic planning"  # type: ignore[arg-type]


async def test_a_slow_database_of_kept_names_holds_a_page_no_longer_than_its_bound(monkeypatch, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")

    def slow_load(engine, ids):
        time.sleep(3)  # a database that answers slowly, or a connect that hangs
        return {}

    async def get_plan(client: object, transition_id: str):
        return PLAN

    monkeypatch.setattr(plan_names, "_load", slow_load)
    monkeypatch.setattr(plan_names, "get_plan", get_plan)
    kept = plan_names.PlanNames(engine, wait=0.3)
    began = time.monotonic()
    await kept.of(None, {"t-1": "r1"})  # type: ignore[arg-type]
    assert time.monotonic() - began < 2.5, "the page waited for the database past its bound"
    await asyncio.sleep(0)
