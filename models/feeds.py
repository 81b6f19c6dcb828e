"""KPI feeds: where a plan says its readings come from, the reporting periods they are pulled for,
and what a pull asks for and brings back.

A plan names its sources under ``feeds`` and gives a KPI (or the whole plan, for every KPI) a
``feed: {source, select}``. A source that needs a credential or a database is one of the
deployment's connections (``connection: NAME``, see `models.connections`): the URL, the token, the
database and its query are the operator's, never the plan's. Plans written before the boundary
named a ``BPO_FEED_...`` setting here; they still decode, and the worker refuses to pull them.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.base import Grown, Strict
from models.durations import Duration

ReportingPeriod = Literal["daily", "weekly", "monthly"]
FeedSetting = Annotated[str, Field(pattern=r"^BPO_FEED_[A-Z0-9_]{1,60}$")]
"""The name of a worker setting (an environment variable) holding a feed's secret."""
FeedKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PLACEHOLDERS = ("{period}", "{start}", "{end}", "{kpi}")
MAX_CATCH_UP = 12
"""Periods one pull asks for at most: a transition paused for a season catches up in steps."""


class _Source(Grown):
    _later: ClassVar[tuple[str, ...]] = ("connection",)

    name: FeedKey
    connection: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    """One of the deployment's connections (``BPO_CONNECTIONS``) open to the plan's client."""
    after: Duration = timedelta(hours=1)
    """How long after a period ends it is pulled, so the source has its figures in."""
    give_up_after: Duration = timedelta(hours=6)
    """How long an unreachable source is tried again (with growing pauses) before the period is
    reported as "no data from feed"; it is still asked again at every later pull."""


class HttpFeed(_Source):
    """A JSON document (``kind: json``, values picked by ``select``) or a CSV file with the header
    ``period,metric,value`` (``kind: csv``) at a URL, which may hold ``{period}``, ``{start}`` and
    ``{end}``: a URL with no credential, or the deployment's ``connection`` (its URL and token)."""

    _later = ("connection", "url")  # a url was always given before connections; a token may be null

    kind: Literal["json", "csv"]
    url: str | None = Field(default=None, max_length=500)
    token: FeedSetting | None = None
    """Before the boundary: a setting sent as a bearer token. Refused now; use a connection."""

    @model_validator(mode="after")
    def _one_target(self) -> HttpFeed:
        if (self.url is None) == (self.connection is None):
            raise ValueError("a json or csv feed has a url or a connection, one of them")
        return self

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("a feed's url is https://host/...")
        if "@" in parts.netloc:
            raise ValueError("a feed's url may not carry a user or password; ask the operator for a connection")
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            raise ValueError("a feed is read over https (http only on this machine, for tests)")
        return url


class SqlFeed(_Source):
    """A query against a database the worker reaches read-only: the deployment's ``connection``
    holds the database and the query, which gets ``:period``, ``:start``, ``:end`` and ``:kpi``
    and answers one row with one number. (Before the boundary a plan named the ``database``
    setting and wrote the ``query``; such plans still decode, and are refused.)"""

    _later = ("connection", "database", "query")  # both were always given before connections

    kind: Literal["sql"]
    database: FeedSetting | None = None
    query: str | None = Field(default=None, min_length=1, max_length=4000)

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str | None) -> str | None:
        return one_select(query, "a feed's query")


def one_select(query: str | None, what: str) -> str | None:
    """``query`` trimmed, if it is one SELECT (or WITH ... SELECT); a ValueError naming ``what``."""
    if query is None:
        return None
    text = query.strip().rstrip(";").strip()
    if not re.match(r"(?is)^(select|with)\b", text) or ";" in text:
        raise ValueError(f"{what} is one SELECT (or WITH ... SELECT); it never writes")
    return text


Source = Annotated[HttpFeed | SqlFeed, Field(discriminator="kind")]


class FeedUse(Strict):
    """Which source a KPI's readings come from and what picks its value there: a JSON path
    (``$.weeks["{period}"].csat``; default ``$.{kpi}``), a CSV ``metric`` (default the KPI's key)
    or the query's ``:kpi`` (default the KPI's key)."""

    source: FeedKey
    select: str | None = Field(default=None, min_length=1, max_length=200)


# --- reporting periods ------------------------------------------------------------------------


def period_of(moment: datetime, every: ReportingPeriod) -> str:
    """The label of the period holding ``moment`` (UTC): ``2027-01-04``, ``2027-W01``, ``2027-01``."""
    day = moment.astimezone(UTC).date()
    if every == "daily":
        return day.isoformat()
    if every == "monthly":
        return f"{day.year:04d}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def bounds(label: str, every: ReportingPeriod) -> tuple[datetime, datetime]:
    """Where the period ``label`` starts and ends (UTC, the end excluded); ValueError if ``label``
    is not a period of that kind."""
    if every == "daily":
        start = date.fromisoformat(label)
        end = start + timedelta(days=1)
    elif every == "weekly":
        m = re.fullmatch(r"(\d{4})-W(\d{2})", label)
        if not m:
            raise ValueError(f"'{label}' is not a week; write it as 2027-W05")
        start = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        end = start + timedelta(days=7)
    else:
        m = re.fullmatch(r"(\d{4})-(\d{2})", label)
        if not m:
            raise ValueError(f"'{label}' is not a month; write it as 2027-02")
        start = date(int(m.group(1)), int(m.group(2)), 1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return datetime.combine(start, datetime.min.time(), UTC), datetime.combine(end, datetime.min.time(), UTC)


def next_period(label: str, every: ReportingPeriod) -> str:
    """The label of the period after ``label``."""
    return period_of(bounds(label, every)[1], every)


# --- what a pull asks and brings back ------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedPull(_Message):
    """One pull: a source, the value each KPI takes from it, the periods to fetch."""

    transition_id: str
    source: Source
    client: str | None = None
    """The plan's client: whether the source's connection is open to it (none: before the boundary)."""
    metrics: dict[str, str]
    """Each KPI's selector, placeholders unresolved."""
    periods: list[str]
    every: ReportingPeriod = "weekly"


class FeedResult(_Message):
    """What a pull brought: readings for each complete period, the reason for each period without
    data, or (nothing else) why the source could not be reached; and the hash of what was read."""

    source: str
    readings: dict[str, dict[str, float]] = {}
    no_data: dict[str, str] = {}
    unreachable: str | None = None
    hashes: dict[str, str] = {}
    """The SHA-256 of the document each period's readings were read from."""
    size: int = 0


class FeedState(_Message):
    """A source's schedule, carried across runs."""

    next_period: str
    """The first period not yet pulled on schedule."""
    asking: list[str] = []
    """The periods of the pull under way, tried again until ``give_up_after``."""
    asked_at: datetime | None = None
    attempts: int = 0
    retry_at: datetime | None = None
    missing: list[str] = []
    """Periods reported as no data: asked again at every later pull until they come."""
    last_at: datetime | None = None
    last_sha256: str | None = None
    last_problem: str | None = None
