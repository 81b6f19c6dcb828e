"""A plan's public holidays from the `holidays` package: ``calendar: holidays: {country: DE,
subdivision: BY}`` (or such a mapping among dates typed by hand) becomes the dates themselves
when the plan is read (validated, started, amended).

The dates, not the country, are what the plan carries into Temporal: a transition keeps the
holidays it was started (or amended) with, and replaying its history never depends on the
version of the package installed where it replays. They run from the plan's ``starts_on`` (or
the day it is read) through the contract's end (``steady_state.until``), at most `YEARS` years.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.errors import Path_, sentence

YEARS = 10
"""The most years of holidays a plan takes from the package."""


class HolidaysOf(BaseModel):
    """Where the holidays come from: a country (ISO 3166 code) and, optionally, a subdivision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str = Field(pattern=r"^[A-Z]{2,3}$")
    subdivision: str | None = Field(default=None, min_length=1, max_length=10)


def _span(data: dict[str, Any], today: date) -> tuple[date, date]:
    """The days the holidays are needed for: from the start through the contract's end, at most `YEARS` years."""
    starts_on = data.get("starts_on")
    start = starts_on if isinstance(starts_on, date) else today
    last = date(start.year + YEARS, start.month, min(start.day, 28))  # 28: a start on 29 February
    steady = data.get("steady_state")
    until = steady.get("until") if isinstance(steady, dict) else None
    return start, (until if isinstance(until, date) and start <= until < last else last)


def _dates_of(source: HolidaysOf, start: date, end: date) -> list[date] | tuple[str, str]:
    """The holidays of ``source`` from ``start`` through ``end``, or what is wrong with it: the
    field and a sentence."""
    import holidays  # loaded only for a plan that asks for it

    supported = holidays.list_supported_countries()
    if source.country not in supported:
        return "country", f"'{source.country}' is not a country the holidays package knows; write an ISO code such as DE"
    divisions = supported[source.country]
    if source.subdivision is not None and source.subdivision not in divisions:
        known = ", ".join(divisions[:40]) or "none"
        return "subdivision", f"{source.country} has no subdivision '{source.subdivision}'; it has {known}"
    found = holidays.country_holidays(
        source.country, subdiv=source.subdivision, years=range(start.year, end.year + 1)
    )
    return sorted(day for day in found if start <= day <= end)


def expand_holidays(data: dict[str, Any], today: date) -> list[tuple[Path_, str]]:
    """Replace each ``{country, subdivision}`` in ``data``'s ``calendar.holidays`` by its dates,
    in place, keeping the dates typed by hand; returns each problem with its place."""
    calendar = data.get("calendar")
    if not isinstance(calendar, dict) or not isinstance(calendar.get("holidays"), (dict, list)):
        return []
    given = calendar["holidays"]
    entries: list[tuple[Path_, Any]] = (
        [(("calendar", "holidays"), given)]
        if isinstance(given, dict)
        else [(("calendar", "holidays", i), entry) for i, entry in enumerate(given)]
    )
    start, end = _span(data, today)
    days: list[Any] = []
    problems: list[tuple[Path_, str]] = []
    for path, entry in entries:
        if not isinstance(entry, dict):
            days.append(entry)  # a date, checked as one by the calendar
            continue
        try:
            source = HolidaysOf.model_validate(entry)
        except ValidationError as exc:
            problems += [((*path, *error["loc"]), sentence(error)) for error in exc.errors()]
            continue
        found = _dates_of(source, start, end)
        if isinstance(found, tuple):
            problems.append(((*path, found[0]), found[1]))
        else:
            days.extend(found)
    # A day typed and given by the country counts once. Where a source is wrong, the typed dates
    # alone stay, so that its problem is not said twice (once more as "must be a date").
    calendar["holidays"] = list(dict.fromkeys(days))
    return problems
