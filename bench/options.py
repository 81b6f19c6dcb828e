"""`python -m bench.run`'s options: the sizes of each measure, and the small sizes of ``--quick``
and ``--smoke``; ``--trace`` and ``--server-sync`` set the environment the stack starts with."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.table import MEASURES


def options(description: str) -> argparse.Namespace:
    """The command line read, the sizes ``--quick`` and ``--smoke`` ask for applied."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--transitions", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--parked", type=int, default=10000)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument(
        "--rounds",
        type=_rounds,
        default=3,
        help="throughput and latency, ours then bare, this many times (at least 1): their median",
    )
    parser.add_argument("--workstreams", type=int, default=12, help="the program measure's size")
    parser.add_argument("--programs", type=int, default=1000, help="the programs measure's open programs")
    parser.add_argument("--program-workstreams", type=int, default=5, help="the programs measure's workstreams each")
    parser.add_argument("--sim-years", type=int, default=3, help="the simulation's years of steady state")
    parser.add_argument("--replay-histories", type=int, default=0, help="replay the newest N only (0: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a look in a minute")
    parser.add_argument("--smoke", action="store_true", help="every measure at its smallest size, for make test")
    parser.add_argument("--json", type=Path, help="also write the results here (and compare with what it held)")
    parser.add_argument(
        "--only", type=lambda t: t.split(","), default=list(MEASURES), help=f"some of {','.join(MEASURES)}"
    )
    parser.add_argument(
        "--server-sync", choices=["normal", "full", "sqlite-default"], help="BPO_SERVER_SYNC for the dev server"
    )
    parser.add_argument(
        "--trace", type=Path, help="spans of the client and the worker to this file (python -m bench.trace FILE)"
    )
    args = parser.parse_args()
    if args.trace:  # the worker reads it from its environment, which the stack copies from ours
        args.trace = args.trace.resolve()
        args.trace.write_text("")
        os.environ["BPO_TRACE_FILE"] = str(args.trace)
    if args.server_sync:
        os.environ["BPO_SERVER_SYNC"] = args.server_sync
    if args.quick:
        args.transitions, args.samples, args.parked, args.cli_runs, args.programs = 10, 60, 200, 3, 50
        args.rounds = 1
    if args.smoke:  # tests/test_bench_smoke.py: figures that mean nothing, from code that must run
        args.transitions, args.concurrency, args.samples, args.parked, args.cli_runs = 2, 2, 4, 4, 1
        args.workstreams, args.sim_years, args.replay_histories = 2, 1, 3
        args.programs, args.program_workstreams, args.rounds = 2, 2, 2  # two: the median's path runs
    return args


def _rounds(text: str) -> int:
    """``--rounds``: a whole number of at least one (no round has no median, and would fail only
    after the server and the workers started)."""
    try:
        rounds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of rounds") from None
    if rounds < 1:
        raise argparse.ArgumentTypeError(f"{rounds} rounds measure nothing: give at least 1")
    return rounds
