"""Where the outbox flush writes the audit trail: in a process of its own beside the worker (by
default), or in the worker's threads (``BPO_AUDIT_WRITER_PROCESSES=0``, as the workflow tests run).

A flush's audit writes are the worker's heaviest CPU: SQLAlchemy building, hashing and storing
rows. In the worker's threads they hold Python's GIL while the decisions of other transitions
wait for it to run their workflow tasks and answer (docs/benchmarks.md, "The decision tail
traced"); in a process of their own they hold only that process's. The flush still awaits each
write, so what the activity answers is as durable as before: a row is in the table, or the flush
says it is not (`audit_error`) and the workflow keeps the entries for its next flush.

The writing processes are shared by every worker of the process and hold one engine per
database they were asked to write; they are started at the first write, and a pool that broke
(a writing process killed) is replaced at the next.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from sqlalchemy import Engine

from infra.audit import chain_before, record_entries, sent_before
from infra.db import open_engine
from infra.logs import configure
from models.deliveries import AuditEntry, ChainHead, Delivery

ENGINES_KEPT = 8
"""Databases a writing process keeps an engine for (a worker writes one; a test run, many)."""


class AuditWriter:
    """The outbox's audit writes for the database of ``engine``: in ``processes`` processes of
    their own, or in the worker's threads when ``processes`` is 0."""

    def __init__(self, engine: Engine, processes: int = 0, log_format: str = "auto", log_level: str = "info") -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.processes = processes
        self.logs = (log_format, log_level)

    def warm(self) -> None:
        """Start the writing process now, with its engine, so that the worker's first flush (and
        with it, the first search attributes a transition shows) does not wait for it to start."""
        if self.processes:
            _pool(self.processes, self.logs).submit(_warm, self.url)

    async def write(self, entries: list[AuditEntry], flush: str | None = None) -> tuple[int, list[ChainHead]]:
        """Write ``entries`` in one transaction, marked by ``flush``: how many were new, and the
        places in the chain the write left (`infra.audit.record_entries`)."""
        if not self.processes:
            return await asyncio.to_thread(_written, self.engine, entries, flush)
        return await self._in_process(_write, self.url, entries, flush)

    async def before(
        self, transition_id: str, event_ids: list[str], deliveries: list[Delivery], flush: str | None
    ) -> tuple[ChainHead | None, set[str]]:
        """What an earlier try of this flush left: the head its rows left (`chain_before`), and
        which of ``deliveries`` it sent (`infra.audit.sent_before`)."""
        if not self.processes:
            return await asyncio.to_thread(_found_before, self.engine, transition_id, event_ids, deliveries, flush)
        return await self._in_process(_before, self.url, transition_id, event_ids, deliveries, flush)

    async def _in_process(self, call: Any, *args: Any) -> Any:
        pool = _pool(self.processes, self.logs)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, call, *args)
        except BrokenProcessPool:
            _forget(pool)  # the next write starts a new one; this one fails as a database away would
            raise


_pools: dict[tuple[int, tuple[str, str]], ProcessPoolExecutor] = {}
_lock = threading.Lock()


def _pool(processes: int, logs: tuple[str, str]) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get((processes, logs))
        if pool is None:
            # Spawned, not forked: the worker runs threads (the SDK's, the executor's) a fork
            # would copy mid-step.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_start, initargs=(*logs, os.getpid()))
            _pools[(processes, logs)] = pool
        return pool


def _forget(pool: ProcessPoolExecutor) -> None:
    with _lock:
        for key, kept in list(_pools.items()):
            if kept is pool:
                del _pools[key]
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def close() -> None:
    """Shut the writing processes down, waiting for the writes under way. At exit, and by `bpo
    worker` before it leaves with ``os._exit`` (which runs no exit handler): a pool never shut
    down leaves its semaphores to multiprocessing's resource tracker, which warns of them."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True)


# In the writing process.
_engines: OrderedDict[str, Engine] = OrderedDict()


def _start(log_format: str, log_level: str, worker: int) -> None:
    """Log as the worker does, and end with it: a worker killed outright leaves no writer behind."""
    configure(log_format, log_level)

    def watch() -> None:
        while os.getppid() == worker:
            time.sleep(1)
        os._exit(0)  # a write cut short rolls back, as it would have with the worker

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


def _engine(url: str) -> Engine:
    engine = _engines.pop(url, None) or open_engine(url)
    _engines[url] = engine
    while len(_engines) > ENGINES_KEPT:
        _engines.popitem(last=False)[1].dispose()
    return engine


def _warm(url: str) -> None:
    _engine(url)


def _write(url: str, entries: list[AuditEntry], flush: str | None) -> tuple[int, list[ChainHead]]:
    return _written(_engine(url), entries, flush)


def _before(
    url: str, transition_id: str, event_ids: list[str], deliveries: list[Delivery], flush: str | None
) -> tuple[ChainHead | None, set[str]]:
    return _found_before(_engine(url), transition_id, event_ids, deliveries, flush)


# In either.
def _written(engine: Engine, entries: list[AuditEntry], flush: str | None) -> tuple[int, list[ChainHead]]:
    written: list[ChainHead] = []
    return record_entries(engine, entries, flush, written), written


def _found_before(
    engine: Engine, transition_id: str, event_ids: list[str], deliveries: list[Delivery], flush: str | None
) -> tuple[ChainHead | None, set[str]]:
    return chain_before(engine, transition_id, event_ids, flush)[1], sent_before(engine, deliveries, flush)
