"""The worker's shorter GIL hand-overs (``BPO_WORKER_SWITCH_INTERVAL_US``): a decision waits less
behind a flush's audit write in another thread."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from bpo.running import quicker_handovers
from infra.settings import Settings


def test_the_worker_hands_the_gil_over_every_millisecond_unless_told_otherwise():
    before = sys.getswitchinterval()
    try:
        quicker_handovers(Settings().worker_switch_interval_us)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        quicker_handovers(Settings(BPO_WORKER_SWITCH_INTERVAL_US=5000).worker_switch_interval_us)
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)


def test_a_switch_interval_too_short_to_do_work_in_is_refused():
    with pytest.raises(ValidationError, match="BPO_WORKER_SWITCH_INTERVAL_US"):
        Settings(BPO_WORKER_SWITCH_INTERVAL_US=10)
