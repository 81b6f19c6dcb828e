"""A run family's key in its audit and notice ids: two transitions started under one id a few
seconds apart (the second after the first ended, `bpo start --replace-ended`) make different ids,
though Temporal's time-ordered run ids share their first digits."""

from __future__ import annotations

from tests.rules.sim import PLAN, START
from workflows.rules import Machine
from workflows.rules.machine import run_key_of
from workflows.rules.versions import RUN_KEY_HASHED

# Version 7 run ids, as the dev server hands them out: the first 48 bits are the time in ms.
FIRST, AGAIN = "01a24ac5-a04e-7abc-8def-0123456789ab", "01a24ac5-b311-7fed-9cba-ba9876543210"


def started(first_run: str) -> list[str]:
    machine = Machine.start(PLAN, "t-1", START, run_key=run_key_of(first_run), first_run_id=first_run)
    return [entry.id for entry in machine.outbox.audit]


def test_two_runs_of_one_id_started_within_a_minute_write_different_ids():
    first, again = started(FIRST), started(AGAIN)
    assert first and not set(first) & set(again), "the second run's rows would collide with the first's"


def test_a_history_from_before_keeps_the_first_digits_it_was_recorded_with():
    before = lambda change: change != RUN_KEY_HASHED  # noqa: E731 - the seam, replaying
    assert run_key_of(FIRST, before) == run_key_of(AGAIN, before) == "01a24ac5"
