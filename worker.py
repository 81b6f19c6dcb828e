"""The worker: runs transitions (workflows) and their audit and notification activities.

Run it as ``bpo worker`` (or ``python worker.py``); several may run at once on one task queue.
What it runs is built in `bpo.running`.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from infra.logs import configure
from infra.settings import get_settings
from models.errors import describe


def main() -> None:
    """The `bpo-worker` console script."""
    try:
        settings = get_settings()
    except ValidationError as exc:  # a setting may be a secret: never repeated
        wrong = describe(exc, show_input=False)
        raise SystemExit(f"bpo-worker: a setting in the environment or .env is wrong: {wrong}") from None
    configure(settings.log_format, settings.log_level)
    # Here, not above: the audit writer's processes are spawned and import this module first
    # (`bpo-worker`, `python worker.py`); they need none of the worker's Temporal or HTTP.
    from bpo.running import run_worker

    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
