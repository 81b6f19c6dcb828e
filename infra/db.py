"""The audit database: an engine from a URL, its schema brought up to date by Alembic migrations."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, event, text
from sqlmodel import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x62706F5F6D6967
"""The PostgreSQL advisory lock key held while migrating ("bpo_mig"): the engine's own number."""


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration; several processes may start at once."""
    from alembic import command  # here, not above: only what migrates pays for Alembic
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.dialect.name == "postgresql":
        # Workers and web apps start together: one takes the lock and migrates, the others wait for
        # its commit (the lock goes with the transaction), then find the schema at head.
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return
    for attempt in range(10):
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except Exception:  # SQLite: another process is migrating the same file: wait, then look again
            if attempt == 9:
                raise
            time.sleep(0.3 * (attempt + 1))


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), with the schema migrated to the newest."""
    engine = open_engine(url)
    migrate(engine)
    return engine


def open_engine(url: str) -> Engine:
    """An engine for ``url`` whose schema another has migrated (the audit writer's process)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets `bpo` read the trail while the worker writes it; with WAL, synchronous=NORMAL
            # survives a crash of the process (what the chaos drill does) and skips an fsync per commit.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")

        return engine
    return create_engine(url, pool_pre_ping=True)
