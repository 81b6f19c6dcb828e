"""The KPI feed activity: fetch a source for some periods and read each KPI's value there.

A period's readings come whole or not at all: if one KPI's value is missing, not a number or
negative, the period is "no data" with that reason. A source that cannot be reached (refused
connection, timeout, HTTP error, database down, a setting not set on this worker) is reported as
unreachable, and the rules try it again later. Secrets (a token, a database URL) are read from the
worker's ``BPO_FEED_...`` settings here and never leave this module.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from temporalio import activity

from activities.fetching import Fetched, Refused, Unreachable, fetch, sha256_of
from models.feeds import FeedPull, FeedResult, HttpFeed, SqlFeed, bounds
from models.jsonpath import pick

log = structlog.get_logger(__name__)
MAX_FEED_BYTES = 1024 * 1024
"""A feed's document is figures, not a file: more than this is refused."""


class NoData(Exception):
    """A period the source gave nothing usable for; the message says why."""


def _fill(template: str, period: str, every: str, kpi: str = "") -> str:
    start, end = bounds(period, every)  # type: ignore[arg-type]
    return (
        template.replace("{period}", period)
        .replace("{start}", start.date().isoformat())
        .replace("{end}", end.date().isoformat())
        .replace("{kpi}", kpi)
    )


def _number(metric: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise NoData(f"{metric} is not a number ({json.dumps(value, default=str)[:40]})")
    try:
        number = float(value)
    except ValueError:
        raise NoData(f"{metric} is not a number ('{str(value)[:40]}')") from None
    if not math.isfinite(number):
        raise NoData(f"{metric} is not a finite number")
    if number < 0:
        raise NoData(f"{metric} is negative ({number:g})")
    return number


def _read_json(doc: Fetched, asked: FeedPull, period: str) -> dict[str, float]:
    if "html" in doc.content_type or doc.body.lstrip()[:1] == b"<":
        raise NoData(f"the source answered HTML ({doc.content_type or 'no type'}), not JSON")
    try:
        data = json.loads(doc.body)
    except ValueError:
        raise NoData("the source's answer is not JSON") from None
    values = {}
    for metric, select in asked.metrics.items():
        try:
            values[metric] = _number(metric, pick(data, _fill(select, period, asked.every, metric)))
        except LookupError as exc:
            raise NoData(f"{metric}: {exc}") from None
    return values


def _read_csv(doc: Fetched, asked: FeedPull, period: str) -> dict[str, float]:
    if "html" in doc.content_type or doc.body.lstrip()[:1] == b"<":
        raise NoData(f"the source answered HTML ({doc.content_type or 'no type'}), not CSV")
    try:
        rows = list(csv.reader(io.StringIO(doc.body.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        raise NoData("the source's answer is not a UTF-8 CSV file") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["period", "metric", "value"]:
        raise NoData("the CSV's first line is not the header period,metric,value")
    found = {(r[0].strip(), r[1].strip()): r[2].strip() for r in rows[1:] if len(r) == 3}
    values = {}
    for metric, select in asked.metrics.items():
        name = _fill(select, period, asked.every, metric)
        if (period, name) not in found:
            raise NoData(f"{metric}: no row for {period},{name}")
        values[metric] = _number(metric, found[(period, name)])
    return values


class FeedActivities:
    """Pulls KPI feeds for the worker, with its HTTP client and its ``BPO_FEED_...`` settings."""

    def __init__(self, http: httpx.AsyncClient, settings: Mapping[str, str]) -> None:
        self.http = http
        self.settings = settings
        self._engines: dict[str, sa.Engine] = {}

    def _setting(self, name: str) -> str:
        value = self.settings.get(name)
        if not value:
            raise Unreachable(f"{name} is not set on this worker")
        return value

    @activity.defn(name="pull_feed")
    async def pull(self, asked: FeedPull) -> FeedResult:
        """Fetch ``asked.source`` for each of ``asked.periods``."""
        result = FeedResult(source=asked.source.name)
        fetched: dict[str, Fetched] = {}  # a URL without {period} is fetched once a pull
        try:
            for period in asked.periods:
                try:
                    if isinstance(asked.source, SqlFeed):
                        values, digest, size = await self._sql(asked.source, asked, period)
                    else:
                        values, digest, size = await self._http(asked.source, asked, period, fetched)
                except (NoData, Refused) as exc:
                    result.no_data[period] = str(exc)
                    continue
                result.readings[period], result.hashes[period] = values, digest
                result.size += size
        except Unreachable as exc:
            log.warning("feed_unreachable", transition_id=asked.transition_id, feed=asked.source.name, error=str(exc))
            return FeedResult(source=asked.source.name, unreachable=str(exc))
        log.info(
            "feed_pulled",
            transition_id=asked.transition_id,
            feed=asked.source.name,
            periods=list(result.readings),
            no_data=result.no_data,
        )
        return result

    async def _http(
        self, source: HttpFeed, asked: FeedPull, period: str, fetched: dict[str, Fetched]
    ) -> tuple[dict[str, float], str, int]:
        url = _fill(source.url, period, asked.every)
        if url not in fetched:
            headers = {"Accept": "application/json" if source.kind == "json" else "text/csv"}
            if source.token:
                headers["Authorization"] = f"Bearer {self._setting(source.token)}"
            fetched[url] = await fetch(self.http, url, MAX_FEED_BYTES, headers)
        doc = fetched[url]
        read = _read_json if source.kind == "json" else _read_csv
        return read(doc, asked, period), sha256_of(doc.body), len(doc.body)

    async def _sql(self, source: SqlFeed, asked: FeedPull, period: str) -> tuple[dict[str, float], str, int]:
        url = self._setting(source.database)
        engine = self._engines.get(url) or self._engines.setdefault(url, sa.create_engine(url, pool_pre_ping=True))
        start, end = bounds(period, asked.every)
        answers = await asyncio.to_thread(_query, engine, source.query, asked.metrics, period, start, end)
        values = {metric: _number(metric, answer) for metric, answer in answers.items()}
        document = json.dumps({"period": period, "values": values}, sort_keys=True).encode()
        return values, sha256_of(document), len(document)


def _query(
    engine: sa.Engine, query: str, metrics: dict[str, str], period: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """Each KPI's answer to ``query``, in a read-only transaction that is rolled back."""
    try:
        connection = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        raise Unreachable(f"cannot connect to the database ({type(exc).__name__})") from None
    answers = {}
    with connection:
        try:
            with connection.begin() as tx:
                _read_only(connection)
                for metric, kpi in metrics.items():
                    params = {"period": period, "start": start, "end": end, "kpi": kpi.replace("{kpi}", metric)}
                    rows = connection.execute(sa.text(query), params).fetchmany(2)
                    if len(rows) != 1 or len(rows[0]) != 1:
                        got = f"{len(rows[0])} columns" if len(rows) == 1 else f"{len(rows)} rows"
                        raise NoData(f"{metric}: the query answered {got}; it must answer one number")
                    answers[metric] = rows[0][0]
                tx.rollback()
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unreachable("the database connection was lost") from None
            raise NoData(f"the database refused the query: {str(exc.orig).strip().splitlines()[0][:200]}") from None
    return answers


def _read_only(connection: sa.Connection) -> None:
    """Make the transaction unable to write, whatever the query tries."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    elif dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql("SET LOCAL statement_timeout = 15000")
    else:
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
