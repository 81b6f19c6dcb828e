"""The names of each listed transition's phases and gates, for the inbox and the portfolio.

The visibility store that lists them knows keys only (``BpoPhase = "planning"``); the names
people read are in each transition's plan. A plan is asked for once and its names kept for a
few minutes (an amendment may rename a phase), so a page keeps to its one visibility query
once the transitions it lists are known. Only running transitions are asked (a closed one would
be replayed to answer); a closed one, or a plan that cannot be read in time, shows its keys in
words.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from temporalio.client import Client

from bpo.api import BpoError, get_plan
from models.messages import STEADY_STATE
from models.names import STEADY_STATE_NAME, gate_name, in_words, phase_name

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
    """Names by transition id, each read from its plan and kept for ``seconds``."""

    def __init__(self, seconds: float = 300.0, at_once: int = 16, wait: float = 2.0, most: int = 20_000) -> None:
        self.seconds, self.wait, self.most = seconds, wait, most
        self._kept: dict[str, tuple[float, Names]] = {}
        self._at_once = asyncio.Semaphore(at_once)

    async def of(self, client: Client, ids: Iterable[str]) -> dict[str, Names]:
        """The names of each of ``ids``; those not known (or known too long) read now, together."""
        now = time.monotonic()
        wanted = set(ids)
        stale = [i for i in wanted if i not in self._kept or now - self._kept[i][0] > self.seconds]
        if stale:
            if len(self._kept) > self.most:
                self._kept.clear()
            for transition_id, names in zip(stale, await asyncio.gather(*(self._read(client, i) for i in stale))):
                if names is not None:
                    self._kept[transition_id] = (now, names)
        return {i: self._kept[i][1] if i in self._kept else UNKNOWN for i in wanted}

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
