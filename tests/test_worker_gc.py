"""The worker's quieter garbage collector (``BPO_WORKER_GC_THRESHOLD``): what it loaded at start
is frozen out of collections and the youngest generation waits for the threshold; 0, the default,
leaves Python's own settings."""

from __future__ import annotations

import gc

from bpo.running import quieter_collector
from infra.settings import Settings


def test_the_worker_collects_as_python_does_unless_told_to_collect_less_often():
    before = gc.get_threshold()
    try:
        assert Settings().worker_gc_threshold == 0
        quieter_collector(0)
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
        quieter_collector(50_000)
        assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
