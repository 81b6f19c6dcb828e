"""The cost form on the transition page: offered to the program office where the plan has a
business case, refused in the rules' (and the models') words, and the cost shown at once in the
page's Value realized section. The time-skipping server, the web app in process."""

from __future__ import annotations

from decimal import Decimal

from models.money import BusinessCase
from tests.test_web_forms import app, send  # noqa: F401 - app: the fixture, signed in as Li, Dana and Eve
from tests.web_client import text_of


async def test_the_program_manager_records_a_cost_from_the_transition_page(launch, reference_plan, app):  # noqa: F811
    case = BusinessCase(currency="USD", annual_savings=Decimal(1200000), one_off_costs=Decimal(150000))
    t = await launch(reference_plan.model_copy(update={"business_case": case}))
    li, _, eve = app
    page = (await li.get(f"/t/{t.id}")).text
    assert '<h2 id="value">Value realized</h2>' in page and 'id="form-cost"' in page
    assert 'id="form-cost"' not in (await eve.get(f"/t/{t.id}")).text, "an SME records no costs"
    cents = await send(li, t.id, "cost", amount="12.345", category="travel", note="kickoff flights")
    assert cents.status_code == 422 and "takes at most 2 decimal places" in text_of(cents.text)
    sent = await send(li, t.id, "cost", amount="1250.50", category="travel", note="kickoff flights")
    assert sent.status_code == 303, text_of(sent.text)
    status = await t.status()
    assert status.value is not None and status.value.savings is not None
    assert status.value.savings.costs_by_category == {"travel": Decimal("1250.50")}
    assert (status.decisions[-1].kind, status.decisions[-1].via) == ("cost_recorded", "web-link")
    shown = text_of((await li.get(f"/t/{t.id}")).text)
    assert "Costs recorded (travel 1,250.50 USD) -1,250.50 USD" in shown, shown
