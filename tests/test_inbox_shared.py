"""People who open the web app at once share one visibility query (a restart, a Monday morning),
and each sees what a load of their own would show: their gates, their portfolio, no one else's.
On the real dev server, whose store answers one query at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from bpo.web.plan_names import PlanNames
from bpo.web.views import Overview, Recent, overview
from models.constants import login_key
from tests.conftest import running_worker
from tests.driver import Driver

PEOPLE = ["li@acme.example", "dana@acme.example", "raj@northstar.example", "eve@acme.example", "mo@northstar.example"]


def seen(o: Overview) -> tuple[list[tuple[str, str | None]], list[str] | None]:
    """What a person sees: their inbox's gates and their portfolio's transitions."""
    return [(r.id, r.gate) for r in o.inbox], None if o.portfolio is None else [r.id for r in o.portfolio]


async def test_people_loading_at_once_share_a_query_and_each_sees_their_own(dev, settings, reference_plan, monkeypatch):
    async with running_worker(dev, settings):
        first = await Driver.start(dev, reference_plan, settings.task_queue)
        second = await Driver.start(dev, reference_plan, settings.task_queue)
        await second.approve("gap_analysis_approved", "li@acme.example")
        client = dev.client
        for _ in range(100):  # until the store shows both, and the second's approval, as the worker upserts
            li = seen(await overview(client, PEOPLE[0]))
            if len(li[1] or []) == 2 and (second.id, "gap_analysis_approved") not in li[0]:
                break
            await asyncio.sleep(0.2)
        alone = {person: seen(await overview(client, person)) for person in PEOPLE}

        asked: list[str] = []
        listing = client.workflow_service.list_workflow_executions

        async def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
            asked.append(request.query)
            return await listing(request, *args, **kwargs)

        monkeypatch.setattr(client.workflow_service, "list_workflow_executions", counted)
        recent = Recent(plan_names=PlanNames())
        together = await asyncio.gather(*(recent.overview(client, person) for person in PEOPLE))

    assert {p: seen(o) for p, o in zip(PEOPLE, together, strict=True)} == alone
    # Li awaits the first transition's gap analysis (the second's is approved) and leads both;
    # Dana sponsors both; Raj signs the SLAs but leads none; Eve and Mo wait on nothing yet.
    assert (first.id, "gap_analysis_approved") in alone[PEOPLE[0]][0]
    assert (second.id, "gap_analysis_approved") not in alone[PEOPLE[0]][0]
    assert sorted(alone[PEOPLE[1]][1] or []) == sorted([first.id, second.id])
    assert alone[PEOPLE[2]][0] and alone[PEOPLE[2]][1] is None
    assert alone[PEOPLE[3]] == alone[PEOPLE[4]] == ([], None)
    assert len(asked) < len(PEOPLE), asked
    assert any(all(login_key(p) in q for p in PEOPLE) for q in asked), "no query was shared"


async def test_an_address_with_an_apostrophe_shares_the_query_and_a_server_away_fails_every_load(
    dev, settings, reference_plan
):
    async with running_worker(dev, settings):
        started = await Driver.start(dev, reference_plan, settings.task_queue)
        client = dev.client
        for _ in range(100):
            if (await overview(client, PEOPLE[0])).inbox:
                break
            await asyncio.sleep(0.2)
        recent = Recent(plan_names=PlanNames())
        li, odd = await asyncio.gather(
            recent.overview(client, PEOPLE[0]), recent.overview(client, "o'brien@acme.example")
        )
        assert (started.id, "gap_analysis_approved") in seen(li)[0] and seen(odd) == ([], None)
    await dev.shutdown()  # the server away: each load waiting on the query is told, none hangs
    gone = Recent(plan_names=PlanNames())
    failed = await asyncio.wait_for(
        asyncio.gather(*(gone.overview(client, p) for p in PEOPLE), return_exceptions=True), 60
    )
    assert all(isinstance(f, Exception) for f in failed), failed
