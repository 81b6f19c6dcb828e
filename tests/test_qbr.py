"""`bpo qbr`: the quarter's business-review pack from a transition run on the time-skipping
server, with the settlement figures worked out by hand."""

from __future__ import annotations

import re

from sqlmodel import Session

from bpo.qbr import Quarter, render_qbr
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import RaidAdd, RecordReadings
from starter import main
from tests.driver import LI, RAJ

FEE = 180_000  # the reference plan's monthly fee; csat misses cost 3%, error_rate 4%


async def test_the_pack_of_a_quarter_holds_its_settlements_breaches_and_open_items(t, settings, reference_plan):
    await t.reach("steady_state")
    await t.do(RaidAdd(kind="risk", title="Peak season staffing", owner=RAJ, by=LI))
    credits = {}
    for n, values in enumerate(
        [{"csat": 80.0}, {"csat": 90.0}, {"csat": 90.0, "error_rate": 2.5}], start=1
    ):  # a csat miss (3%), a met month, an error-rate miss (4%)
        await t.do(RecordReadings(period=f"M{n}", values=values, by=LI))
        await t.sleep(days=30)
        credits[n] = round(FEE * {1: 0.03, 2: 0.0, 3: 0.04}[n], 2)
    status = await t.status()
    with Session(make_engine(settings.audit_url)) as session:
        trail = read_trail(t.id, session=session)
    missed = next(r for r in trail if r.kind == "sla_breach")  # the csat miss of M1
    quarter = Quarter(missed.at.year, (missed.at.month - 1) // 3 + 1)
    inside = [s.period for s in status.settlements if quarter.holds(s.to)]
    html = render_qbr(reference_plan, status, trail, quarter, await t.env.get_current_time())
    expected = sum(credits[p] for p in inside if p in credits)
    assert f"Service credits<b>{expected:,.2f} USD</b>" in html
    assert all(f"<td>{p}</td>" in html for p in inside)
    breaches = html.split('id="breaches"')[1].split("</table>")[0]
    assert "<td>csat</td><td>80.0</td><td>85.0</td>" in breaches
    assert "Peak season staffing" in html and f"Next quarter ({quarter.next})" in html
    assert not re.search(r"https?://", html), "the pack loads nothing from anywhere"


def test_a_quarter_that_is_not_yyyy_qn_is_refused_before_anything_is_asked(capsys):
    assert main(["qbr", "any-transition", "--quarter", "2027-Q5"]) == 2
    assert "'2027-Q5' is not a quarter; write it as YYYY-QN" in capsys.readouterr().err
