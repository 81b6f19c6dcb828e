"""What a notice about a gate tells besides its words, read back typed: the gate, the path to its
page, and (since the rules' ``notice-facts-2026-12``) its name, what it needs, who has signed and
when it is due. Slack messages, Teams cards and mail all read a notice's facts here."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from models.base import Message
from models.deliveries import Notice
from models.names import named

GATE_NOTICES = ("approval_requested", "reminder")
"""Notices about a gate that waits on people: they carry its facts and the path to its page."""


class GateFacts(Message):
    """A gate as a request or a reminder tells of it; a notice sent before the facts were added
    carries only ``gate`` and ``path``."""

    gate: str
    path: str
    gate_name: str | None = None
    needs: str | None = None
    signed: list[str] | None = None
    due: datetime | None = None

    @property
    def name(self) -> str:
        """The gate as people read it: its name, else its key in words."""
        return named(self.gate, self.gate_name)


def gate_facts(notice: Notice) -> GateFacts | None:
    """The gate ``notice`` is about, if it asks someone to decide one."""
    if notice.kind not in GATE_NOTICES:
        return None
    try:
        return GateFacts.model_validate(notice.detail)
    except ValidationError:  # a notice of another shape: told by its words alone
        return None


def when_text(moment: datetime) -> str:
    """A due moment as people read it, in UTC: ``Mon 11 Jan 2027 17:00 UTC``."""
    if moment.utcoffset() is None:
        return f"{moment:%a %d %b %Y %H:%M}"
    return f"{moment.astimezone(UTC):%a %d %b %Y %H:%M} UTC"


def fact_rows(notice: Notice, facts: GateFacts) -> list[tuple[str, str]]:
    """What a message lists about the gate ``facts`` tell of, as (label, value): whom it waits
    on, what it needs, who has signed, when it is due."""
    rows = [("Waits on", ", ".join(r.name for r in notice.recipients) or "—")]
    if facts.needs:
        rows.append(("Needs", facts.needs))
    if facts.signed is not None:
        rows.append(("Signed", ", ".join(facts.signed) or "nobody yet"))
    if facts.due:
        rows.append(("Due", when_text(facts.due)))
    return rows


class _Paged(Message):
    path: str


def page_path(notice: Notice) -> str:
    """The web app's page a notice leads to: the one it names (its gate's), else its transition's."""
    try:
        return _Paged.model_validate(notice.detail).path
    except ValidationError:
        return f"/t/{notice.transition_id}"
