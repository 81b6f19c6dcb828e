"""The KPI feed activity: fetch a source for some periods and read each KPI's value there.

A period's readings come whole or not at all: if one KPI's value is missing, not a number or
negative, the period is "no data" with that reason (never the value itself: a reason is kept in
the trail, notices, report and logs). A source that cannot be reached (refused connection,
timeout, HTTP error, database down, a setting not set on this worker) is reported as unreachable,
and the rules try it again later. A source that crosses the boundary (a plan written before it,
naming a token or a database itself; a connection not open to the plan's client) is switched off:
every period is "no data" with a reason that names the fix. Secrets (a token, a database URL) are
read from the settings the deployment's connections name, here, and never leave this module.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
import structlog
from temporalio import activity

from infra.fetching import Fetched, Refused, Unreachable, fetch, sha256_of
from models.boundary import connection_kind, feed_problem
from models.connections import ConnectionRefused, Connections
from models.feeds import FeedPull, FeedResult, HttpFeed, SqlFeed, bounds
from models.jsonpath import pick
from models.readings import BadReading, reading_value

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
    # What the source holds in place of a number may be anything (a name, a secret): not told.
    try:
        return reading_value(metric, value, quote=False)
    except BadReading as exc:
        raise NoData(str(exc)) from None


class Switched(Exception):
    """A source the boundary refuses: every period is no data, with the fix."""


@dataclass(frozen=True)
class _Target:
    """Where a pull reads, as the deployment's connection (or the plan's plain URL) says."""

    url: str | None = None
    token: str | None = None
    database: str | None = None
    query: str | None = None


def _read_json(doc: Fetched, asked: FeedPull, period: str) -> dict[str, float]:
    if "html" in doc.content_type or doc.body.lstrip()[:1] == b"<":
        raise NoData("the source answered HTML, not JSON")
    try:
        data = json.loads(doc.body)
    except ValueError:
        raise NoData("the source's answer is not JSON") from None
    except RecursionError:  # ``[[[[…]]]]``: Python's decoder recurses, and a megabyte is deep enough
        raise NoData("the source's answer is JSON nested too deep") from None
    values = {}
    for metric, select in asked.metrics.items():
        try:
            values[metric] = _number(metric, pick(data, _fill(select, period, asked.every, metric)))
        except LookupError as exc:
            raise NoData(f"{metric}: {exc}") from None
    return values


def _read_csv(doc: Fetched, asked: FeedPull, period: str) -> dict[str, float]:
    if "html" in doc.content_type or doc.body.lstrip()[:1] == b"<":
        raise NoData("the source answered HTML, not CSV")
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
    """Pulls KPI feeds for the worker, with its HTTP client, the deployment's connections and the
    settings they name."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: Mapping[str, str],
        connections: Connections | None = None,
        trusted: httpx.AsyncClient | None = None,
    ) -> None:
        self.http = http
        """The guarded client, for a URL a plan wrote."""
        self.trusted = trusted or http
        """The client for the deployment's own connections (the operator named them)."""
        self.settings = settings
        self.connections = connections or Connections()
        self._engines: dict[str, sa.Engine] = {}

    def _setting(self, name: str) -> str:
        value = self.settings.get(name)
        if not value:
            raise Unreachable(f"{name} is not set on this worker")
        return value

    def _target(self, asked: FeedPull) -> _Target:
        """What ``asked.source`` reads, checked against the boundary at every pull."""
        source = asked.source
        if problem := feed_problem(source):
            raise Switched(f"feed '{source.name}' is switched off: {problem}")
        if not source.connection:
            return _Target(url=source.url) if isinstance(source, HttpFeed) else _Target()
        try:
            connection = self.connections.allowed(source.connection, (connection_kind(source),), asked.client)
        except ConnectionRefused as refused:
            raise Switched(f"feed '{source.name}' is switched off: {refused}") from None
        return _Target(
            url=connection.url or (self._setting(connection.url_from) if connection.url_from else None),
            token=self._setting(connection.token_from) if connection.token_from else None,
            database=self._setting(connection.database_from) if connection.database_from else None,
            query=connection.query,
        )

    @activity.defn(name="pull_feed")
    async def pull(self, asked: FeedPull) -> FeedResult:
        """Fetch ``asked.source`` for each of ``asked.periods``."""
        result = FeedResult(source=asked.source.name)
        fetched: dict[str, Fetched] = {}  # a URL without {period} is fetched once a pull
        bound = log.bind(transition_id=asked.transition_id, feed=asked.source.name)
        try:
            target = self._target(asked)
            for period in asked.periods:
                try:
                    if isinstance(asked.source, SqlFeed):
                        values, digest, size = await self._sql(target, asked, period)
                    else:
                        values, digest, size = await self._http(target, asked, period, fetched)
                except (NoData, Refused) as exc:
                    result.no_data[period] = str(exc)
                    continue
                result.readings[period], result.hashes[period] = values, digest
                result.size += size
        except Switched as off:
            bound.warning("feed_switched_off", reason=str(off))
            return FeedResult(source=asked.source.name, no_data={period: str(off) for period in asked.periods})
        except Unreachable as exc:
            bound.warning("feed_unreachable", error=str(exc))
            return FeedResult(source=asked.source.name, unreachable=str(exc))
        bound.info("feed_pulled", periods=list(result.readings), no_data=result.no_data)
        return result

    async def _http(
        self, target: _Target, asked: FeedPull, period: str, fetched: dict[str, Fetched]
    ) -> tuple[dict[str, float], str, int]:
        url = _fill(target.url or "", period, asked.every)
        if url not in fetched:
            headers = {"Accept": "application/json" if asked.source.kind == "json" else "text/csv"}
            if target.token:
                headers["Authorization"] = f"Bearer {target.token}"
            http = self.trusted if asked.source.connection else self.http
            fetched[url] = await fetch(http, url, MAX_FEED_BYTES, headers)
        doc = fetched[url]
        read = _read_json if asked.source.kind == "json" else _read_csv
        return read(doc, asked, period), sha256_of(doc.body), len(doc.body)

    async def _sql(self, target: _Target, asked: FeedPull, period: str) -> tuple[dict[str, float], str, int]:
        url, query = target.database or "", target.query or ""
        engine = self._engines.get(url) or self._engines.setdefault(url, sa.create_engine(url, pool_pre_ping=True))
        start, end = bounds(period, asked.every)
        answers = await asyncio.to_thread(_query, engine, query, asked.metrics, period, start, end)
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
            # The database's own words may quote what it read: only the kind of error is told.
            said = str(exc.orig).lower()
            why = "it tried to write" if "read-only" in said or "readonly" in said else type(exc.orig).__name__
            raise NoData(f"the database refused the query ({why})") from None
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
