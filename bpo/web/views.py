"""What the pages show, read from Temporal: the inbox and the portfolio from its visibility store
(one list call each, however many transitions run), a transition and its gates from queries."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.client import Client

from bpo.api import BpoError
from bpo.web.plan_names import UNKNOWN, Names, PlanNames
from models.constants import WORKFLOW_NAME, login_key
from models.messages import STEADY_STATE
from models.plan import Person
from models.plan_words import Health
from models.workstreams import split_id
from workflows.search import SA_AWAITING, SA_CLIENT, SA_DUE, SA_HEALTH, SA_PEOPLE, SA_PHASE, SA_PROVIDER, SA_STATE

PORTFOLIO_ROLES = ("executive_sponsor", "program_manager")
HEALTHS: tuple[str, ...] = get_args(Health)
MAX_ROWS = 500
_SAFE = re.compile(r"^[^'\"\\\s]+$")


@dataclass(frozen=True)
class Row:
    """One transition as the visibility store knows it; ``gate`` set on an inbox row."""

    id: str
    client: str
    provider: str
    phase: str
    health: str
    state: str
    due: datetime | None
    started: datetime | None
    gate: str | None = None
    names: Names = UNKNOWN
    """The transition's phase and gate names, as its plan gives them."""

    @property
    def phase_name(self) -> str:
        """The phase as people read it."""
        return self.names.phase(self.phase)

    @property
    def gate_name(self) -> str:
        """The gate (of an inbox row) as people read it."""
        return self.names.gate(self.gate) if self.gate else ""

    @property
    def workstream(self) -> str | None:
        """The key of the workstream this row is (``email`` of ``PROGRAM/email``), if it is one."""
        return split_id(self.id)[1]


@dataclass(frozen=True)
class Found:
    """One execution as the visibility store lists it: its id, whether it runs, its start and
    search attributes (read straight from their JSON payloads; the SDK's full conversion of
    every listed execution cost more than the rest of a page)."""

    id: str
    running: bool
    started: datetime | None
    attributes: dict[str, Any]
    first_run: str = ""
    """The id of its first run: the same across continue-as-new, another for a transition
    started again under an ended one's id."""

    def row(self, gate: str | None = None, names: Names = UNKNOWN) -> Row:
        """The execution as a row of the inbox or the portfolio."""
        sa = self.attributes
        live = sa.get(SA_STATE.name) in ("running", "paused") and sa.get(SA_PHASE.name) != STEADY_STATE
        due = sa.get(SA_DUE.name)
        return Row(
            id=self.id,
            client=sa.get(SA_CLIENT.name) or "",
            provider=sa.get(SA_PROVIDER.name) or "",
            phase=sa.get(SA_PHASE.name) or "",
            health=sa.get(SA_HEALTH.name) or "",
            state=sa.get(SA_STATE.name) or "",
            due=datetime.fromisoformat(due) if live and isinstance(due, str) else None,
            started=self.started,
            gate=gate,
            names=names,
        )


@dataclass(frozen=True)
class Portfolio:
    """The portfolio as shown: each workstream right under its program (semantics:
    "Workstreams"), and what the rows count."""

    rows: list[Row]
    under: frozenset[str]
    """The ids of the workstreams shown right under their program."""
    transitions: int
    """Rows that are transitions of their own, programs among them."""
    programs: int
    """Those shown with workstreams under them."""
    workstreams: int
    """Workstreams shown under their program."""
    apart: int
    """Workstreams shown without their program (a filter left it out): each keeps its whole id."""


def by_program(rows: list[Row]) -> Portfolio:
    """``rows`` in their order, each workstream moved right under its program where that is
    listed (its workstreams by key); a workstream whose program is not listed keeps its place."""
    listed = {r.id for r in rows if r.workstream is None}
    streams: dict[str, list[Row]] = {}
    for r in rows:
        if r.workstream is not None and split_id(r.id)[0] in listed:
            streams.setdefault(split_id(r.id)[0], []).append(r)
    shown: list[Row] = []
    for r in rows:
        if r.workstream is None:
            shown.append(r)
            shown += sorted(streams.get(r.id, []), key=lambda s: s.id)
        elif split_id(r.id)[0] not in listed:
            shown.append(r)
    under = frozenset(r.id for s in streams.values() for r in s)
    return Portfolio(shown, under, len(listed), len(streams), len(under), len(rows) - len(listed) - len(under))


def _literal(value: str) -> str:
    if not _SAFE.match(value):
        raise BpoError(f"'{value}' cannot be looked up", kind="BadInput")
    return f"'{value}'"


async def _list(client: Client, query: str, most: int = MAX_ROWS) -> list[Found]:
    found: list[Found] = []
    token = b""
    while len(found) < most:
        page = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(
                namespace=client.namespace, query=query, page_size=MAX_ROWS, next_page_token=token
            )
        )
        for e in page.executions:
            fields = {k: json.loads(v.data) for k, v in e.search_attributes.indexed_fields.items() if v.data}
            started = e.start_time.ToDatetime(tzinfo=UTC) if e.HasField("start_time") else None
            running = e.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
            found.append(Found(e.execution.workflow_id, running, started, fields, e.first_run_id))
        token = page.next_page_token
        if not token:
            break
    return found[:most]


@dataclass(frozen=True)
class Overview:
    """What the home page shows a person: the gates waiting on them, oldest due first, and the
    transitions they sponsor or manage (None if they sponsor or manage none)."""

    inbox: list[Row]
    portfolio: list[Row] | None
    fragments: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False)
    """Parts of the page already rendered from this overview, by what they show."""

    def rendered(self, key: tuple[str, ...], render: Callable[[], str]) -> str:
        """The part of the page ``key``, rendered once for this overview."""
        if key not in self.fragments:
            self.fragments[key] = render()
        return self.fragments[key]

    def filtered(self, health: str | None, phase: str | None) -> list[Row] | None:
        """The portfolio with only the transitions of ``health`` and ``phase`` (its key, or the
        name the page shows, in any case)."""
        if health and health not in HEALTHS:
            raise BpoError(f"unknown health '{health}'; one of {', '.join(HEALTHS)}", kind="BadInput")
        if self.portfolio is None:
            return None
        wanted = (phase or "").strip().casefold()
        return [
            r
            for r in self.portfolio
            if (not health or r.health == health) and (not wanted or wanted in (r.phase, r.phase_name.casefold()))
        ]


async def overview(client: Client, email: str, plan_names: PlanNames | None = None) -> Overview:
    """A person's inbox and portfolio from one visibility query; the running transitions' phase
    and gate names from ``plan_names`` (else their keys in words)."""
    return (await overviews(client, [email], plan_names))[email]


async def overviews(client: Client, emails: list[str], plan_names: PlanNames | None = None) -> dict[str, Overview]:
    """Several people's overviews from one visibility query, each what `overview` shows that
    person alone: people who load the page at once share one scan of the store, not one each."""
    keys = {email: login_key(email) for email in emails}
    mine = sorted({_literal(me) for me in keys.values()})
    leads = sorted({_literal(f"{me}#{role}") for me in keys.values() for role in PORTFOLIO_ROLES})
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND (BpoAwaiting IN ({', '.join(mine)}) OR BpoPeople IN ({', '.join(leads)}))"
    most = MAX_ROWS * len(keys)
    found = await _list(client, query, most)
    if len(keys) > 1 and len(found) >= most:  # one person's rows may have crowded out another's
        return {email: await overview(client, email, plan_names) for email in keys}
    running = {wf.id: wf.first_run for wf in found if wf.running}
    names = await plan_names.of(client, running) if plan_names else {}
    lacking: dict[str, str] = {}
    shown = {email: _overview(me, theirs, names, lacking) for email, (me, theirs) in _by_person(keys, found).items()}
    if plan_names and lacking:
        plan_names.read_behind(client, lacking)
    return shown


def _by_person(keys: dict[str, str], found: list[Found]) -> dict[str, tuple[str, list[Found]]]:
    """Each person's key and the rows found that concern them (awaiting them, or listing them in a
    portfolio role), in the order found: one pass over the rows, however many people share them."""
    theirs: dict[str, list[Found]] = {me: [] for me in keys.values()}
    for wf in found:
        awaited = {v for v in wf.attributes.get(SA_AWAITING.name) or [] if v in theirs}
        leading = {
            v.partition("#")[0]
            for v in wf.attributes.get(SA_PEOPLE.name) or []
            if v.partition("#")[2] in PORTFOLIO_ROLES
        }
        for me in awaited | (leading & theirs.keys()):
            theirs[me].append(wf)
    return {email: (me, theirs[me]) for email, me in keys.items()}


def _overview(me: str, theirs: list[Found], names: dict[str, Names], lacking: dict[str, str]) -> Overview:
    """The person ``me``'s overview from the rows that concern them: the first `MAX_ROWS`. A
    running transition whose kept names lack its phase or an awaited gate goes into ``lacking``."""
    leads = {f"{me}#{role}" for role in PORTFOLIO_ROLES}
    inbox: list[Row] = []
    portfolio: list[Row] = []
    for wf in theirs[:MAX_ROWS]:
        called = names.get(wf.id, UNKNOWN)
        if wf.running:
            gates = [v.split("#", 1)[1] for v in wf.attributes.get(SA_AWAITING.name) or [] if v.startswith(f"{me}#")]
            inbox.extend(wf.row(gate, called) for gate in gates)
            if called is not UNKNOWN and called.lacks(wf.attributes.get(SA_PHASE.name), *gates):
                lacking[wf.id] = wf.first_run
        if leads & set(wf.attributes.get(SA_PEOPLE.name) or []):
            portfolio.append(wf.row(names=called))
    far = datetime.max.replace(tzinfo=UTC)
    inbox.sort(key=lambda r: (r.due or far, r.started or far, r.id))
    portfolio.sort(key=lambda r: (r.state != "running", r.client, r.id))
    return Overview(inbox, portfolio or None)


class Recent:
    """Each person's overview, kept and refreshed behind their back: a load answers at once with
    what was fetched at most ``seconds`` (plus one query's time) ago, and starts a fresh query
    if that is older; one query in flight per person however many loads arrive. A person's own
    decision forgets their overview, so their next load waits for a fresh one.

    At most `AT_ONCE` visibility queries run at a time: the people who ask while they run share
    the next one (`overviews`), so fifty people arriving together cost a few scans, not fifty."""

    AT_ONCE = 2
    SHARED = 100
    """The most people one query asks for."""

    def __init__(self, seconds: float = 5.0, plan_names: PlanNames | None = None) -> None:
        self.seconds = seconds
        self.plan_names = plan_names or PlanNames()
        self._kept: dict[str, tuple[float, asyncio.Future[Overview]]] = {}
        self._fresh: dict[str, asyncio.Future[Overview]] = {}
        self._forgotten: dict[str, int] = {}
        self._asking: dict[str, asyncio.Future[Overview]] = {}
        """Those waiting for the next query, and their answers to be."""
        self._queries: set[asyncio.Future[None]] = set()
        """The queries running, kept so that none is collected mid-flight."""

    async def overview(self, client: Client, email: str) -> Overview:
        """``overview`` of ``email``, recent."""
        now = time.monotonic()
        kept = self._kept.get(email)
        if kept is None or (kept[1].done() and kept[1].exception() is not None):
            kept = (now, self._fetch(client, email))
        elif now - kept[0] > self.seconds and email not in self._fresh:
            self._fetch(client, email)
        self._kept[email] = kept
        return await asyncio.shield(kept[1])

    def _fetch(self, client: Client, email: str) -> asyncio.Future[Overview]:
        if len(self._kept) > 10_000:
            self._kept.clear()
            self._forgotten.clear()
        asked, generation = time.monotonic(), self._forgotten.get(email, 0)
        future = self._asking.get(email) or asyncio.get_running_loop().create_future()
        self._fresh[email] = self._asking[email] = future
        if len(self._queries) < self.AT_ONCE:
            self._queries.add(asyncio.ensure_future(self._query(client)))

        def done(f: asyncio.Future[Overview]) -> None:
            if self._fresh.get(email) is f:
                del self._fresh[email]
            # An answer asked for before the person's own decision is not kept after it.
            if not f.cancelled() and f.exception() is None and self._forgotten.get(email, 0) == generation:
                self._kept[email] = (asked, f)

        future.add_done_callback(done)
        return future

    async def _query(self, client: Client) -> None:
        """Answer everyone waiting, `SHARED` people a query, until no one waits (then it leaves
        `_queries` at once, before anyone else can ask: a load never waits on a query that ended)."""
        try:
            await self._answer(client)
        finally:
            self._queries.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _answer(self, client: Client) -> None:
        while self._asking:
            emails = list(self._asking)[: self.SHARED]
            waiting = {email: self._asking.pop(email) for email in emails}
            shown: dict[str, Overview | BaseException]
            try:
                shown = dict(await overviews(client, emails, self.plan_names))
            except Exception as error:  # the server is away: everyone in the query is told
                shown = dict.fromkeys(waiting, error)
            for email, answer in shown.items():
                if waiting[email].done():
                    continue
                if isinstance(answer, BaseException):
                    waiting[email].set_exception(answer)
                else:
                    waiting[email].set_result(answer)

    def forget(self, email: str) -> None:
        """Drop what is kept for ``email``."""
        self._kept.pop(email, None)
        self._fresh.pop(email, None)
        self._forgotten[email] = self._forgotten.get(email, 0) + 1


def member(people: list[Person], email: str) -> Person | None:
    """The roster's entry for the person signed in as ``email``."""
    return next((p for p in people if (p.address or p.id).lower() == email.lower()), None)


async def on_a_roster(client: Client, email: str) -> bool:
    """Whether ``email`` is on the roster of a running transition."""
    query = (
        f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus = 'Running' AND BpoPeople = {_literal(login_key(email))}"
    )
    return bool([wf async for wf in client.list_workflows(query, limit=1, page_size=1)])
