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
from collections.abc import Iterable
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

    def lacks(self, phase: str | None, gate: str | None = None) -> bool:
        """Whether a listed phase or gate is not among these names (an amendment added it)."""
        return bool(phase and phase not in self.phases) or bool(gate and gate not in self.gates)


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
        self._kept: dict[str, tuple[float, Names]] = {}
        """By transition id: when its names were read (``time.time()``), and the names."""
        self._at_once = asyncio.Semaphore(at_once)
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._unstored: dict[str, tuple[float, Names]] = {}
        self._storing: asyncio.Task[None] | None = None

    async def of(self, client: Client, ids: Iterable[str]) -> dict[str, Names]:
        """The names of each of ``ids``: those never read are read now, together, for at most
        ``wait``; those read more than ``seconds`` ago are answered as read and read again behind
        the page."""
        wanted = set(ids)
        if len(self._kept) > self.most:
            self._kept.clear()
        if self.engine is not None and (missing := [i for i in wanted if i not in self._kept]):
            try:
                self._kept.update(await asyncio.to_thread(_load, self.engine, missing))
            except Exception as error:  # the database away: the plans are asked, as before it kept them
                log.warning("plan_names_not_loaded", transition_ids=len(missing), error=type(error).__name__)
        if unknown := [i for i in wanted if i not in self._kept]:
            await asyncio.wait(self.read_behind(client, unknown), timeout=self.wait)
        now = time.time()
        self.read_behind(client, [i for i in wanted if i in self._kept and now - self._kept[i][0] > self.seconds])
        return {i: self._kept[i][1] if i in self._kept else UNKNOWN for i in wanted}

    def read_behind(self, client: Client, ids: Iterable[str]) -> list[asyncio.Task[None]]:
        """Read the names of ``ids`` from their plans, behind the page: a page that lists a
        phase or gate its kept names lack (an amendment added it) asks for this too. Each plan is
        read once at a time, however many pages ask."""
        reads = []
        for transition_id in ids:
            read = self._reading.get(transition_id)
            if read is None:
                read = self._reading[transition_id] = asyncio.create_task(self._refresh(client, transition_id))
            reads.append(read)
        return reads

    async def _refresh(self, client: Client, transition_id: str) -> None:
        read_at = time.time()
        try:
            names = await self._read(client, transition_id)
        finally:
            self._reading.pop(transition_id, None)
        if names is None:
            return
        self._kept[transition_id] = (read_at, names)
        if self.engine is not None:
            self._unstored[transition_id] = (read_at, names)
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


def _load(engine: Engine, ids: list[str]) -> dict[str, tuple[float, Names]]:
    """The names the database keeps for ``ids``, with when each was read."""
    found: dict[str, tuple[float, Names]] = {}
    with Session(engine) as session:
        for chunk in range(0, len(ids), 500):
            rows = session.exec(
                select(KeptPlanNames).where(col(KeptPlanNames.transition_id).in_(ids[chunk : chunk + 500]))
            )
            for row in rows:
                found[row.transition_id] = (row.read_at.timestamp(), Names(dict(row.phases), dict(row.gates)))
    return found


def _store(engine: Engine, read: dict[str, tuple[float, Names]]) -> None:
    """Keep ``read`` in the database: each transition's names, and when they were read."""
    with Session(engine) as session:
        for transition_id, (read_at, names) in read.items():
            at = datetime.fromtimestamp(read_at, UTC)
            session.merge(
                KeptPlanNames(transition_id=transition_id, phases=names.phases, gates=names.gates, read_at=at)
            )
        session.commit()
