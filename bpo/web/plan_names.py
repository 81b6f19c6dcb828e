"""The names of each listed transition's phases and gates, for the inbox and the portfolio.

The visibility store that lists them knows keys only (``BpoPhase = "planning"``); the names
people read are in each transition's plan. A plan is asked for once and its names kept for a
few minutes (an amendment may rename a phase), so a page keeps to its one visibility query
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


UNKNOWN = Names({STEADY_STATE: STEADY_STATE_NAME}, {})
"""A transition whose plan could not be read: its keys in words."""


class PlanNames:
    """Names by transition id, each read from its plan and kept for ``seconds``; with an
    ``engine``, also kept in the database (`KeptPlanNames`), so that a web app started again
    answers its first pages from there instead of asking Temporal for every plan (at 20,000 open
    transitions, most of them not in the worker's cache, each ask replays one)."""

    def __init__(
        self,
        engine: Engine | None = None,
        seconds: float = 300.0,
        at_once: int = 16,
        wait: float = 2.0,
        most: int = 20_000,
    ) -> None:
        self.engine = engine
        self.seconds, self.wait, self.most = seconds, wait, most
        self._kept: dict[str, tuple[float, Names]] = {}
        """By transition id: when its names were read (``time.time()``), and the names."""
        self._at_once = asyncio.Semaphore(at_once)
        self._behind: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def of(self, client: Client, ids: Iterable[str]) -> dict[str, Names]:
        """The names of each of ``ids``: those never read are read now, together; those read
        more than ``seconds`` ago are answered as read and read again behind the page."""
        wanted = set(ids)
        if len(self._kept) > self.most:
            self._kept.clear()
        if self.engine is not None and (missing := [i for i in wanted if i not in self._kept]):
            self._kept.update(await asyncio.to_thread(_load, self.engine, missing))
        unknown = [i for i in wanted if i not in self._kept]
        if unknown:
            await self._refresh(client, unknown)
        now = time.time()
        stale = [i for i in wanted if i in self._kept and now - self._kept[i][0] > self.seconds]
        if stale := [i for i in stale if i not in self._behind]:
            self._behind.update(stale)
            task = asyncio.create_task(self._refresh(client, stale))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return {i: self._kept[i][1] if i in self._kept else UNKNOWN for i in wanted}

    async def _refresh(self, client: Client, ids: list[str]) -> None:
        read_at = time.time()
        try:
            read = {i: n for i, n in zip(ids, await asyncio.gather(*(self._read(client, i) for i in ids))) if n}
        finally:
            self._behind.difference_update(ids)
        self._kept.update((i, (read_at, names)) for i, names in read.items())
        if self.engine is not None and read:
            try:
                await asyncio.to_thread(_store, self.engine, read, read_at)
            except Exception as error:  # kept in memory all the same; the database may be back next time
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


def _store(engine: Engine, read: dict[str, Names], read_at: float) -> None:
    """Keep ``read`` in the database, each as read at ``read_at``."""
    at = datetime.fromtimestamp(read_at, UTC)
    with Session(engine) as session:
        for transition_id, names in read.items():
            session.merge(
                KeptPlanNames(transition_id=transition_id, phases=names.phases, gates=names.gates, read_at=at)
            )
        session.commit()
