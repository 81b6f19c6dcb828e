"""The worker: runs transitions (workflows) and their audit and notification activities.

Run it as ``bpo worker`` (or ``bpo-worker``, ``python worker.py``: the same command, with the
same messages and exit codes); several may run at once on one task queue. What it runs is built
in `bpo.running`.
"""

from __future__ import annotations

import sys


def main() -> None:
    """The `bpo-worker` console script: ``bpo worker``, its arguments passed on."""
    # Here, not above: the audit writer's processes are spawned and import this module first
    # (`bpo-worker`, `python worker.py`); they need none of the command line, Temporal or HTTP.
    from starter import entry

    sys.argv[1:1] = ["worker"]
    entry()


if __name__ == "__main__":
    main()
