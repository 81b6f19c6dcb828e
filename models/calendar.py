"""Business calendars: a time zone, working days, working hours and holidays, and the clock
arithmetic over them that business durations (``5bd``, ``16bh``) need.

The arithmetic is pure and deterministic: time zones come from the ``tzdata`` package (never the
machine's own zone files, which differ between hosts), so every worker computes the same moment
for the same plan. Working hours are local wall-clock hours, so a deadline computed across a
daylight-saving change lands on the right local hour.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
_SEARCH_DAYS = 366 * 12
"""How far the arithmetic looks for working time: past any duration a plan may hold."""


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` from the ``tzdata`` package.

    Raises:
        ValueError: when ``tzdata`` has no zone of that name.
    """
    parts = name.split("/")
    if not name or any(not p or p in (".", "..") for p in parts):
        raise ValueError(f"unknown time zone '{name}'; write an IANA name such as Europe/Berlin")
    try:
        with resources.files("tzdata.zoneinfo").joinpath(*parts).open("rb") as f:
            return ZoneInfo.from_file(f, key=name)
    except (OSError, ValueError) as e:
        raise ValueError(f"unknown time zone '{name}'; write an IANA name such as Europe/Berlin") from e


class Calendar(BaseModel):
    """When work happens: the zone, the working days, the working hours, the holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    workdays: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], max_length=7)
    hours: str = "09:00-17:00"
    holidays: list[date] = Field(default=[], max_length=2000)
    _start: timedelta = PrivateAttr(default=timedelta(0))
    _end: timedelta = PrivateAttr(default=timedelta(0))
    _days: frozenset[int] = PrivateAttr(default=frozenset())
    _off: frozenset[date] = PrivateAttr(default=frozenset())

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("workdays")
    @classmethod
    def _some_workday(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("a calendar needs at least one workday, such as [mon, tue, wed, thu, fri]")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        m = _HOURS.match(value.replace(" ", ""))
        if not m:
            raise ValueError(f"'{value}' is not a span of hours; write it as 09:00-17:00")
        start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if end > 24 * 60 or end <= start:
            raise ValueError(f"'{value}' ends before it starts; write it as 09:00-17:00")
        return value.replace(" ", "")

    @model_validator(mode="after")
    def _cached(self) -> Calendar:
        start, end = ([int(n) for n in part.split(":")] for part in self.hours.split("-"))
        self._start = timedelta(hours=start[0], minutes=start[1])
        self._end = timedelta(hours=end[0], minutes=end[1])
        self._days = frozenset(WEEKDAYS.index(d) for d in self.workdays)
        self._off = frozenset(self.holidays)
        return self

    @property
    def day_seconds(self) -> float:
        """The working seconds of one working day: what ``1bd`` counts."""
        return (self._end - self._start).total_seconds()

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone."""
        return zone(self.timezone)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day: one of ``workdays`` and not a holiday."""
        return day.weekday() in self._days and day not in self._off

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of ``day`` in UTC, or None on a day off.

        Local times that a daylight-saving change skips or repeats resolve as ``zoneinfo`` does
        (``fold=0``), so a window is never negative.
        """
        if not self.is_workday(day):
            return None
        midnight = datetime.combine(day, time(0))
        start = (midnight + self._start).replace(tzinfo=self.tz).astimezone(UTC)
        end = (midnight + self._end).replace(tzinfo=self.tz).astimezone(UTC)
        return (start, end) if end > start else None

    def local_day(self, moment: datetime) -> date:
        """The calendar day ``moment`` falls on in the calendar's zone."""
        return moment.astimezone(self.tz).date()

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """The working seconds between ``start`` and ``end`` (zero when ``end`` is not later)."""
        if end <= start:
            return 0.0
        total, day = 0.0, self.local_day(start) - timedelta(days=1)
        last = self.local_day(end) + timedelta(days=1)
        while day <= last:
            if (w := self.window(day)) is not None:
                lo, hi = max(w[0], start), min(w[1], end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start``; ``start`` itself for none.

        Raises:
            ValueError: when the calendar holds no working time for years after ``start``.
        """
        if seconds <= 0:
            return start
        left, day = seconds, self.local_day(start) - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            if (w := self.window(day)) is not None and w[1] > start:
                lo = max(w[0], start)
                span = (w[1] - lo).total_seconds()
                if span >= left:
                    return lo + timedelta(seconds=left)
                left -= span
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time left within twelve years")

    def local(self, moment: datetime) -> str:
        """``moment`` as the calendar's people read it: ``Thu 2027-04-08 15:00 CEST``."""
        return moment.astimezone(self.tz).strftime("%a %Y-%m-%d %H:%M %Z")
