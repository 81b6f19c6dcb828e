"""Nothing lost: notices to a webhook that is down for hours wait in the workflow and arrive once
each when it is back, across a continue-as-new too; given up, they are kept and sent again on
request. On the time-skipping server, with a real receiver on loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlmodel import Session

from bpo.running import build_worker
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import RecordReadings, RetryNotices
from tests.driver import LI, Driver
from tests.receivers import counting_hook


@asynccontextmanager
async def engine_with_hook(env, settings, give_up: timedelta = timedelta(hours=24)):
    with counting_hook(down=True) as (url, state), ThreadPoolExecutor(4) as executor:
        settings.webhook_url, settings.delivery_give_up = url, give_up
        async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
            yield state


def logged(settings, tid: str) -> set[str]:
    """The ids of every notice of the transition, from the log channel's audit rows."""
    with Session(make_engine(settings.audit_url)) as session:
        trail = read_trail(tid, session=session)
    return {r.detail["notice"] for r in trail if r.kind == "notification_sent" and r.detail["channel"] == "log"}


def failures(settings, tid: str) -> list[str]:
    with Session(make_engine(settings.audit_url)) as session:
        return [r.detail["notice"] for r in read_trail(tid, session=session) if r.kind == "notification_failed"]


async def test_a_webhook_down_for_hours_gets_every_notice_once_when_it_is_back(env, settings, reference_plan):
    async with engine_with_hook(env, settings) as receiver:
        t = await Driver.start(env, reference_plan, settings.task_queue)
        await t.approve("gap_analysis_approved", LI)
        await t.sleep(hours=5)  # far past the old give-up of eight tries in four minutes
        status = await t.status()
        assert status.notices_pending > 0 and status.notices_failed == 0 and not receiver.taken
        receiver.down = False
        await t.sleep(minutes=20)
        status = await t.status()
    assert status.notices_pending == 0 and not failures(settings, t.id)
    assert set(receiver.taken) == logged(settings, t.id), "every notice reached the webhook"
    assert set(receiver.taken.values()) == {1}, "and each exactly once"


async def test_notices_waiting_at_a_continue_as_new_are_carried_over_and_sent_once(env, settings, reference_plan):
    async with engine_with_hook(env, settings) as receiver:
        receiver.down = False
        t = await Driver.start(env, reference_plan, settings.task_queue)
        await t.reach("steady_state")
        await t.sleep(days=29, hours=20)
        receiver.down = True
        await t.do(RecordReadings(period="M1", values={"csat": 70.0}, by=LI))  # a breach alert
        await t.sleep(hours=8)  # the period settles while the hook is down; the run continues as new
        status = await t.status()
        assert status.runs > 1 and status.notices_pending > 0
        receiver.down = False
        await t.sleep(minutes=20)
        assert (await t.status()).notices_pending == 0
    assert {"sla_breach", "settlement"} <= set(receiver.kinds.values())
    assert set(receiver.taken) == logged(settings, t.id) and set(receiver.taken.values()) == {1}
    assert not failures(settings, t.id)


async def test_notices_given_up_are_kept_and_sent_again_on_request(env, settings, reference_plan):
    async with engine_with_hook(env, settings, give_up=timedelta(hours=1)) as receiver:
        t = await Driver.start(env, reference_plan, settings.task_queue)
        await t.sleep(hours=2)
        status = await t.status()
        given_up = failures(settings, t.id)
        assert status.notices_failed == len(given_up) > 0 and status.notices_pending == 0
        receiver.down = False
        status = await t.do(RetryNotices(by=LI))
        assert status.notices_failed == 0
        await t.sleep(minutes=5)
    assert set(receiver.taken) == set(given_up) == logged(settings, t.id)
    assert set(receiver.taken.values()) == {1}
