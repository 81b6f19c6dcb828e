"""A program's page gathered: each workstream's own status read (at once, side by side) and drawn as
swimlanes (`bpo.lanes`). A workstream's page needs nothing more: its status names its program."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bpo.lanes import lanes, lanes_svg, streams_of
from bpo.web.deps import Web, log
from models.plan import Plan
from models.status import TransitionStatus


async def program_lanes(w: Web, status: TransitionStatus, plan: Plan) -> dict[str, Any] | None:
    """The lanes of a program's page, or None for a transition without workstreams. A workstream
    whose status cannot be read now is drawn as planned only, and the page says so."""
    if not status.workstreams:
        return None
    streams, unread = await streams_of(w.client, status)
    for key in unread:
        log.warning("workstream_unread", transition_id=f"{status.id}/{key}")
    now = datetime.now(UTC)
    rows = lanes(plan, status, streams, now)
    return {"lanes": rows, "svg": lanes_svg(rows, now, link=lambda tid: f"/t/{quote(tid)}"), "unread": unread}
