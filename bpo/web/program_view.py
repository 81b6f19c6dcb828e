"""A program's page gathered: each workstream's own status read (at once, side by side) and drawn as
swimlanes (`bpo.lanes`). A workstream's page needs nothing more: its status names its program."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bpo.api import BpoError, get_status
from bpo.lanes import lanes, lanes_svg
from bpo.web.deps import Web, log
from models.plan import Plan
from models.status import TransitionStatus

STARTED = ("running", "paused", "completed", "cancelled")
"""States of a workstream that has a transition of its own to read."""


async def program_lanes(w: Web, status: TransitionStatus, plan: Plan) -> dict[str, Any] | None:
    """The lanes of a program's page, or None for a transition without workstreams. A workstream
    whose status cannot be read now is drawn as planned only, and the page says so."""
    if not status.workstreams:
        return None
    started = [s for s in status.workstreams if s.state in STARTED]
    answers = await asyncio.gather(*(get_status(w.client, s.id) for s in started), return_exceptions=True)
    streams: dict[str, TransitionStatus] = {}
    unread = []
    for stream, answer in zip(started, answers):
        if isinstance(answer, TransitionStatus):
            streams[stream.key] = answer
        elif isinstance(answer, BpoError):
            log.warning("workstream_unread", transition_id=stream.id, error=str(answer))
            unread.append(stream.key)
        else:
            raise answer  # a bug, not a workstream away
    now = datetime.now(UTC)
    rows = lanes(plan, status, streams, now)
    return {"lanes": rows, "svg": lanes_svg(rows, now, link=lambda tid: f"/t/{quote(tid)}"), "unread": unread}
