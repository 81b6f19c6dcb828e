"""The program office's portfolio analytics: `/analytics` (charts, each with its table), its JSON
at `/api/analytics`, and the exports as downloads: every transition's from `/analytics`, one
transition's from its page (for the people on its roster)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

import bpo.web.ids  # noqa: F401 - registers the routes' {transition_id:tid}
from bpo.analytics import portfolio, sla_words
from bpo.analytics_charts import charts
from bpo.value_text import money
from bpo.web.api import Caller
from bpo.web.deps import log, page, web
from bpo.web.office import may_start
from bpo.web.pages import _member, signed_in
from bpo.web.sessions import Visitor, fingerprint
from infra.exports import export_rows, to_csv, to_xlsx
from models.analytics import Analytics, AnalyticsFilter
from models.errors import describe

router = APIRouter()
Export = Literal["decisions", "readings", "raid", "settlements", "escalations", "costs"]
Fmt = Literal["csv", "xlsx"]
TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
ONLY_THE_OFFICE = "The portfolio's analytics and exports are for the program office (BPO_PROGRAM_OFFICE)"


def office_only(request: Request, me: Visitor) -> None:
    """Refuse (403) anyone outside the program office, whatever roles their plans give them."""
    if not may_start(web(request).settings, me):
        log.warning("analytics_refused", person=fingerprint(me.email), via=me.via)
        raise HTTPException(403, f"{ONLY_THE_OFFICE}: {me.email} is not listed there, nor any group of theirs.")


def filter_of(
    client: Annotated[str | None, Query(max_length=200)] = None,
    provider: Annotated[str | None, Query(max_length=200)] = None,
    program: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
    until: Annotated[str | None, Query(max_length=10)] = None,
) -> AnalyticsFilter:
    """The filter a query string asks for (an empty field: no filter), or 422 in words."""
    try:
        return AnalyticsFilter(
            client=client or None,
            provider=provider or None,
            program=program or None,
            since=_day(since, "since"),
            until=_day(until, "until"),
        )
    except ValidationError as error:
        raise HTTPException(422, f"The filter is wrong: {describe(error)}") from None


def _day(text: str | None, name: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise HTTPException(422, f"{name}: '{text}' is not a day; write it as 2027-01-31") from None


Filter = Annotated[AnalyticsFilter, Depends(filter_of)]


async def _figures(request: Request, query: AnalyticsFilter) -> Analytics:
    w = web(request)
    return await portfolio(w.engine, w.client, query, datetime.now(UTC), w.figures)


@router.get("/analytics", response_class=HTMLResponse)
async def analytics_page(request: Request, query: Filter) -> Response:
    """Where the portfolio loses time: phases planned against actual, gate turnaround, what
    waits now, reworks, escalations, waivers, pauses and go-live; the program office only."""
    office_only(request, signed_in(request))
    found = await _figures(request, query)
    return page(request, "analytics.html", a=found, charts=charts(found), query=query, money=money, sla_words=sla_words)


@router.get("/api/analytics", response_model=Analytics, tags=["api"])
async def analytics_api(request: Request, me: Caller, query: Filter) -> Analytics:
    """The portfolio's analytics as JSON, for the program office's token."""
    office_only(request, me)
    return await _figures(request, query)


async def _download(request: Request, what: Export, fmt: Fmt, transition_id: str | None) -> Response:
    header, rows = await asyncio.to_thread(export_rows, web(request).engine, what, transition_id)
    data = to_csv(header, rows) if fmt == "csv" else await asyncio.to_thread(to_xlsx, header, rows, what)
    name = f"{(transition_id or 'all').replace('/', '-')}-{what}.{fmt}"
    return Response(data, media_type=TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/analytics/export/{what}.{fmt}")
async def export_all(request: Request, what: Export, fmt: Fmt) -> Response:
    """Every transition's rows of one kind, as a file; the program office only."""
    office_only(request, signed_in(request))
    return await _download(request, what, fmt, None)


@router.get("/t/{transition_id:tid}/export/{what}.{fmt}")
async def export_one(request: Request, transition_id: str, what: Export, fmt: Fmt) -> Response:
    """One transition's rows of one kind, as a file, for the people on its roster."""
    await _member(request, signed_in(request), transition_id)
    from bpo.web.transition_view import written_first

    # Entries alone may linger (BPO_AUDIT_LINGER_MS): written first, as for the transition's pages.
    await written_first(web(request), transition_id)
    return await _download(request, what, fmt, transition_id)
