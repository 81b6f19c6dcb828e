"""What the web app offers each person besides a gate's decisions (`workflows.rules.offered`):
the commands their own check would allow now, each aimed only at what the rules allow."""

from __future__ import annotations

from models.commands import Amend, Cancel, Pause, RaidAdd
from tests.rules.sim import DANA, EVE, LI, MO, RAJ, Run, plan_with
from tests.rules.test_delivery_rules import tried


def test_a_program_manager_is_offered_the_office_and_an_sme_only_what_anyone_on_the_roster_may_do():
    run = Run()
    li = run.machine.offered(LI, run.now)
    assert {"pause", "cancel", "escalate", "change_roster", "amend", "raid_add", "delegate", "note"} <= set(li)
    assert "resume" not in li and "retry_notices" not in li and "raid_close" not in li
    assert "trust_keys" not in li and "record_readings" not in li, "keys are an operator's; readings have a page"
    eve = run.machine.offered(EVE, run.now)
    assert set(eve) == {"raid_add", "delegate", "note"}, eve
    assert eve["delegate"] == [EVE], "she delegates her own decisions, nobody else's"
    assert run.machine.offered("nobody@nowhere.example", run.now) == {}


def test_the_roster_and_delegation_forms_name_only_the_people_the_rules_let_you_touch():
    run = Run()
    assert set(run.machine.offered(DANA, run.now)["delegate"]) == {DANA, LI, EVE}, "a sponsor: her own side"
    li_may = set(run.machine.offered(LI, run.now)["change_roster"])
    assert EVE in li_may and DANA not in li_may and LI not in li_may and RAJ not in li_may


def test_what_is_offered_follows_the_state_a_pause_an_item_a_failed_notice_an_amendment():
    run = Run()
    run.do(Pause(by=LI, reason="budget review"))
    li = run.machine.offered(LI, run.now)
    assert "resume" in li and "pause" not in li
    run.do(RaidAdd(by=LI, kind="risk", title="attrition", owner=MO))
    assert run.machine.offered(MO, run.now)["raid_close"] == ["R-1"], "its owner may close it"
    assert "raid_close" not in run.machine.offered(EVE, run.now)
    tried(run, "failed", "the webhook refused the notification: HTTP 404")
    assert "retry_notices" in run.machine.offered(LI, run.now)
    run.do(Amend(by=LI, plan=plan_with("name: Customer satisfaction", "name: Customer happiness"), reason="words"))
    assert run.machine.offered(DANA, run.now)["approve"] == ["amendment_1"]
    assert "approve" not in run.machine.offered(LI, run.now), "a sponsor decides amendments"
    run.do(Cancel(by=DANA, reason="the deal fell through"))
    assert run.machine.offered(LI, run.now) == {}, "an ended transition takes nothing more"
