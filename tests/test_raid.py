"""The RAID log on the time-skipping server: an action that holds a gate, a critical issue that
escalates at once, both seen in the audit trail a reader gets."""

from __future__ import annotations

from sqlmodel import Session

from infra.audit import read_trail
from infra.db import make_engine
from models.commands import RaidAdd, RaidClose
from tests.driver import DANA, LI, RAJ


def notified(settings, tid: str, about: str) -> list[list[str]]:
    with Session(make_engine(settings.audit_url)) as session:
        trail = read_trail(tid, session=session)
    return [
        r.detail["recipients"]
        for r in trail
        if r.kind == "notification_sent" and r.detail["about"] == about and r.detail["channel"] == "log"
    ]


async def test_an_action_holds_a_gate_after_every_sign_off_until_it_is_closed(t):
    await t.do(RaidAdd(kind="action", title="Sign the DPA", owner=RAJ, blocks="slas_signed", by=LI))
    status = await t.approve("slas_signed", DANA, RAJ)
    assert t.gate(status, "slas_signed").status == "open" and t.gate(status, "slas_signed").blocked_by == ["A-1"]
    await t.sleep(days=3)
    status = await t.do(RaidClose(item="A-1", note="countersigned", by=RAJ))
    assert t.gate(status, "slas_signed").status == "passed"


async def test_a_critical_issue_escalates_at_once_and_tells_the_top_of_the_ladder(t, settings):
    status = await t.do(RaidAdd(kind="issue", title="Site lost power", owner=LI, severity="critical", by=RAJ))
    assert status.health == "escalated"
    await t.sleep(minutes=1)
    assert notified(settings, t.id, "raid_escalated") == [[DANA]]
    assert notified(settings, t.id, "raid_assigned") == [[LI]]
