"""The names of each listed transition's phases and gates, for the inbox and the portfolio.

The visibility store that lists them knows keys only (``BpoPhase = "planning"``); the names
people read are in each transition's plan. A plan is asked for once and its names kept, and
read again after an hour (an amendment may rename a phase) or when a page lists a phase or gate
they lack (an amendment may add one), so a page keeps to its one visibility query
once the transitions it lists are known; the web app keeps them in its database too, for its
first pages after a restart. Only running transitions are asked (a closed one would
be replayed to answer); a closed one, or a plan that cannot be read in time, shows its keys in
words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client

from bpo.api import BpoError, get_plan
from models.messages import STEADY_STATE
from models.names import STEADY_STATE_NAME, gate_name, in_words, phase_name
from models.web_tables import KeptPlanNames

log = structlog.get_logger()


@dataclass(frozen=True)
class Names:
    """One plan's phase and gate names, by key."""

    phases: dict[str, str]
    gates: dict[str, str]

    def phase(self, key: str) -> str:
        """The phase ``key`` as people read it."""
        return self.phases.get(key) or in_words(key)

    def gate(self, key: str) -> str:
        """The gate ``key`` as people read it."""
        return self.gates.get(key) or in_words(key)

    def lacks(self, phase: str | None, *gates: str) -> bool:
        """Whether a listed phase or gate is not among these names (an amendment added it)."""
        return bool(phase and phase not in self.phases) or any(g and g not in self.gates for g in gates)


UNKNOWN = Names({STEADY_STATE: STEADY_STATE_NAME}, {})
"""A transition whose plan could not be read: its keys in words."""


class PlanNames:
    """Names by transition id, each read from its plan and read again once ``seconds`` old; with
    an ``engine``, also kept in the database (`KeptPlanNames`), so that a web app started again
    answers its pages from there instead of asking Temporal for every plan (at 20,000 open
    transitions, most of them not in the worker's cache, each ask replays one). A page waits at
    most ``wait`` for names never read; those not read by then show their keys in words this
    once and go on being read behind it."""

    def __init__(
        self,
        engine: Engine | None = None,
        seconds: float = 3600.0,
        at_once: int = 16,
        wait: float = 2.0,
        most: int = 50_000,
    ) -> None:
        self.engine = engine
        self.seconds, self.wait, self.most = seconds, wait, most
        self._kept: dict[str, tuple[float, str, Names]] = {}
        """By transition id: when its names were read (``time.time()``), the first run of the
        transition they were read from, and the names."""
        self._at_once = asyncio.Semaphore(at_once)
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._unstored: dict[str, tuple[float, str, Names]] = {}
        self._storing: asyncio.Task[None] | None = None

    async def of(self, client: Client, listed: Mapping[str, str]) -> dict[str, Names]:
        """The names of each transition ``listed`` (its id, and the id of its first run: names
        kept for another run family under the same id, an ended transition's, are not its own):
        those never read are read now, together, for at most ``wait`` (the database's kept names
        included); those read more than ``seconds`` ago are answered as read and read again
        behind the page."""
        if len(self._kept) > self.most:
            self._kept.clear()
        if self.engine is not None and (missing := [i for i in listed if i not in self._kept]):
            try:
                self._kept.update(await asyncio.wait_for(asyncio.to_thread(_load, self.engine, missing), self.wait))
            except Exception as error:  # the database slow or away: the plans are asked, as before it kept them
                log.warning("plan_names_not_loaded", transition_ids=len(missing), error=type(error).__name__)
        if unknown := {i: run for i, run in listed.items() if not self._known(i, run)}:
            await asyncio.wait(self.read_behind(client, unknown), timeout=self.wait)
        now = time.time()
        self.read_behind(
            client, {i: r for i, r in listed.items() if i in self._kept and now - self._kept[i][0] > self.seconds}
        )
        return {i: self._kept[i][2] if self._known(i, run) else UNKNOWN for i, run in listed.items()}

    def _known(self, transition_id: str, first_run: str) -> bool:
        kept = self._kept.get(transition_id)
        return kept is not None and (kept[1] == first_run or not first_run)

    def read_behind(self, client: Client, listed: Mapping[str, str]) -> list[asyncio.Task[None]]:
        """Read the names of the transitions ``listed`` (id and first run) from their plans,
        behind the page: a page that lists a phase or gate its kept names lack (an amendment
        added it) asks for this too. Each plan is read once at a time, however many pages ask."""
        reads = []
        for transition_id, first_run in listed.items():
            read = self._reading.get(transition_id)
            if read is None:
                read = asyncio.create_task(self._refresh(client, transition_id, first_run))
                self._reading[transition_id] = read
            reads.append(read)
        return reads

    async def _refresh(self, client: Client, transition_id: str, first_run: str) -> None:
        read_at = time.time()
        try:
            names = await self._read(client, transition_id)
        finally:
            self._reading.pop(transition_id, None)
        if names is None:
            return
        self._kept[transition_id] = (read_at, first_run, names)
        if self.engine is not None:
            self._unstored[transition_id] = (read_at, first_run, names)
            if self._storing is None or self._storing.done():
                self._storing = asyncio.create_task(self._store(self.engine))

    async def _store(self, engine: Engine) -> None:
        """Keep what was read in the database, in one transaction per round of reads."""
        while self._unstored:
            read, self._unstored = self._unstored, {}
            try:
                await asyncio.to_thread(_store, engine, read)
            except Exception as error:  # kept in memory all the same; read and kept again later
                log.warning("plan_names_not_kept", transition_ids=len(read), error=type(error).__name__)

    async def _read(self, client: Client, transition_id: str) -> Names | None:
        try:
            async with self._at_once:
                plan = await asyncio.wait_for(get_plan(client, transition_id), self.wait)
        except (BpoError, TimeoutError) as why:  # its keys in words this once; asked again next load
            log.info("plan_names_unread", transition_id=transition_id, reason=str(why) or type(why).__name__)
            return None
        return Names(
            phases={key: phase_name(plan, key) for key in [*(p.key for p in plan.phases), STEADY_STATE]},
            gates={g.key: gate_name(plan, g.key) for p in plan.phases for g in p.gates},
        )


def _load(engine: Engine, ids: list[str]) -> dict[str, tuple[float, str, Names]]:
    """The names the database keeps for ``ids``, with when each was read, and from which run family."""
    found: dict[str, tuple[float, str, Names]] = {}
    with Session(engine) as session:
        for chunk in range(0, len(ids), 500):
            rows = session.exec(
                select(KeptPlanNames).where(col(KeptPlanNames.transition_id).in_(ids[chunk : chunk + 500]))
            )
            for row in rows:
                names = Names(dict(row.phases), dict(row.gates))
                found[row.transition_id] = (row.read_at.timestamp(), row.first_run, names)
    return found


def _store(engine: Engine, read: dict[str, tuple[float, str, Names]]) -> None:
    """Keep ``read`` in the database: each transition's names, when they were read and from
    which run family."""
    with Session(engine) as session:
        for transition_id, (read_at, first_run, names) in read.items():
            at = datetime.fromtimestamp(read_at, UTC)
            row = KeptPlanNames(
                transition_id=transition_id, first_run=first_run, phases=names.phases, gates=names.gates, read_at=at
            )
            session.merge(row)
        session.commit()
