"""Migrations run once: workers and web apps starting together on one PostgreSQL take turns."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import create_engine, inspect, text

from infra.db import MIGRATION_LOCK, make_engine


def _fresh_database(url: str) -> str:
    name = f"mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def _someone_waits_for_the_lock(url: str) -> bool:
    probe = create_engine(url)
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    try:
        for _ in range(600):  # a bound on a loop, not a timing assertion: the wait is looked for
            with probe.connect() as connection:
                if connection.execute(query).scalar():
                    return True
            time.sleep(0.05)
        return False
    finally:
        probe.dispose()


def test_a_process_starting_while_another_migrates_waits_for_it_then_finds_the_schema_made(postgres_url):
    url = _fresh_database(postgres_url)
    holder = create_engine(url)
    started: list[object] = []
    failures: list[BaseException] = []

    def start_a_process() -> None:
        try:
            started.append(make_engine(url))
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    with holder.connect() as connection:  # "another process" holding the migration lock
        transaction = connection.begin()
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        others = [threading.Thread(target=start_a_process) for _ in range(3)]
        for thread in others:
            thread.start()
        assert _someone_waits_for_the_lock(url), "a starting process did not wait for the migration lock"
        assert "alembic_version" not in inspect(connection).get_table_names()
        transaction.rollback()
    for thread in others:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(started) == 3
    check = create_engine(url)
    with check.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert "audit_record" in inspect(connection).get_table_names()
    check.dispose()
    holder.dispose()
