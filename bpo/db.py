"""The audit database: an engine from a URL, with its tables in place."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, event
from sqlmodel import SQLModel, create_engine

from models.tables import AuditRecord  # noqa: F401 - registers the table


def make_engine(url: str) -> Engine:
    """An engine for ``url``, creating the SQLite folder and the tables when they are missing."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets `bpo` read the trail while the worker writes it; with WAL, synchronous=NORMAL
            # survives a crash of the process (what the chaos drill does) and skips an fsync per commit.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")

    else:
        engine = create_engine(url, pool_pre_ping=True)
    SQLModel.metadata.create_all(engine)
    return engine
