"""A plan's holidays named by country (and subdivision) from the `holidays` package, besides dates
typed by hand: expanded into dates when the plan is read, from its start through the contract's
end, so the plan Temporal carries holds dates alone; an unknown country or subdivision is refused
with its place in the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from models.calendar_holidays import expand_holidays
from models.plan_loader import PlanError, load_plan

REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference-plan.yaml"  # 2027-01-04 to 2029-12-31


def plan_with(tmp_path: Path, calendar: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(REFERENCE.read_text() + calendar)
    return path


def test_a_country_and_subdivision_give_their_holidays_from_the_start_to_the_contracts_end(tmp_path: Path):
    path = plan_with(tmp_path, "calendar: {timezone: Europe/Berlin, holidays: [2027-12-24, {country: DE, subdivision: BY}]}\n")
    calendar = load_plan(path, env={}).plan.calendar
    assert calendar is not None
    days = calendar.holidays
    assert date(2027, 12, 24) in days  # typed by hand, kept
    assert date(2027, 1, 6) in days  # Epiphany: Bavaria's, not all Germany's
    assert date(2028, 10, 3) in days and date(2029, 12, 26) in days
    assert date(2027, 1, 1) not in days, "before the plan starts"
    assert not [d for d in days if d.year >= 2030], "after the contract ends"
    assert all(type(d) is date for d in days) and len(days) == len(set(days))
    assert not calendar.is_workday(date(2027, 1, 6))  # and business time skips it


def test_without_a_bavarian_subdivision_epiphany_is_a_workday(tmp_path: Path):
    calendar = load_plan(plan_with(tmp_path, "calendar: {holidays: {country: DE}}\n"), env={}).plan.calendar
    assert calendar is not None
    assert date(2027, 10, 3) in calendar.holidays and date(2027, 1, 6) not in calendar.holidays


@pytest.mark.parametrize(
    ("holidays", "said"),
    [
        ("{country: XX}", "calendar.holidays.country: 'XX' is not a country the holidays package knows"),
        ("{country: DE, subdivision: ZZ}", "calendar.holidays.subdivision: DE has no subdivision 'ZZ'; it has BB, BE, BW, BY"),
        ("[2027-12-24, {country: de}]", "calendar.holidays[1].country: "),
        ("{country: DE, region: BY}", "calendar.holidays.region: unknown key 'region'"),
    ],
)
def test_an_unknown_country_or_subdivision_is_refused_with_its_place(tmp_path: Path, holidays: str, said: str):
    path = plan_with(tmp_path, f"calendar:\n  holidays: {holidays}\n")
    with pytest.raises(PlanError) as refused:
        load_plan(path, env={})
    problems = refused.value.problems
    assert any(f"{p.path}: {p.message}".startswith(said) for p in problems), [f"{p.path}: {p.message}" for p in problems]
    assert all(p.line == len(path.read_text().splitlines()) for p in problems)
    assert not any("must be a date" in p.message for p in problems)  # said once, not again as a date


def test_without_a_start_date_the_holidays_run_from_the_day_it_is_read_for_ten_years_at_most():
    data = {"calendar": {"holidays": {"country": "FR"}}}
    assert expand_holidays(data, date(2031, 5, 2)) == []
    days = data["calendar"]["holidays"]
    assert min(days) == date(2031, 5, 8) and max(days) <= date(2041, 5, 2)
