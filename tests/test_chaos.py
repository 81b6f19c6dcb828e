"""Chaos at CI size: 20 transitions, the worker and the server each SIGKILLed at least 5 times."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import run

pytestmark = pytest.mark.e2e


def test_killing_worker_and_server_at_random_loses_and_doubles_nothing(tmp_path: Path):
    tally = run(tmp_path, transitions=20, min_kills=5, seed=20261122, pace=(1.0, 6.0))
    print(f"kills {dict(tally.kills)}, client retries {tally.retries}, webhook deliveries resent {tally.resent}")
    assert tally.kills["worker"] >= 5 and tally.kills["server"] >= 5
    assert tally.problems == []
