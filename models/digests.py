"""Daily digests, as every process speaks of them: which notices a digest may hold, a person's
choice (`DigestChoice`, what the ``/me`` form sends), when a digest falls due, and what the
scheduled digest workflow and its activity carry."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator

from models.base import Message

DIGESTIBLE = frozenset(
    {
        "approval_requested",
        "amendment_proposed",
        "amendment_decided",
        "delegated",
        "phase_started",
        "wave_started",
        "workstream_started",
        "check_in",
        "business_review",
        "settlement",
        "completed",
    }
)
"""The notices a person's daily digest may hold instead of mailing them at once. Named here and
nowhere else; a kind not named (a reminder, a deadline warning, an escalation, an SLA breach, a
rejection, a pause, a refusal, any kind added later) always goes at once: chasing and alarms
lose their point a day late."""

DIGEST_WORKFLOW = "Digests"
"""The workflow type the digest schedule starts."""
DIGEST_SCHEDULE = "bpo-digests"
"""The id of the Temporal Schedule that sends the digests, every hour on the hour."""
DEFAULT_HOUR = 8
DEFAULT_ZONE = "UTC"
CLAIM_LEASE = timedelta(minutes=30)
"""How long a digest run's claim on the items it mails holds off every other run. Longer than
the activity's ``start_to_close_timeout`` (`workflows.digests.SEND_TIMEOUT`): a retried run finds
the first run's claim still standing while the first may still be mailing; a claim whose run died
is taken again once it is this old."""


class DigestChoice(Message):
    """How a person wants their mail notices: ``each`` (one mail a notice, the default) or
    ``daily`` (one digest a day at ``hour`` o'clock in ``zone``)."""

    mode: Literal["each", "daily"] = "each"
    hour: int = Field(default=DEFAULT_HOUR, ge=0, le=23)
    zone: str = Field(default=DEFAULT_ZONE, min_length=1, max_length=64)

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        zone = zone.strip()
        if zone not in available_timezones() and zone != "UTC":
            raise ValueError(f"'{zone}' is not a time zone this server knows; write it as Europe/London or UTC")
        return zone


def last_slot(now: datetime, hour: int, zone: str) -> datetime:
    """The latest moment, at or before ``now``, that is ``hour`` o'clock in ``zone``: a digest due
    then takes every item held before it."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):  # a zone gone from this server since it was chosen
        tz = ZoneInfo(DEFAULT_ZONE)
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), time(hour), tzinfo=tz)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), time(hour), tzinfo=tz)
    return slot


def next_slot(now: datetime, hour: int, zone: str) -> datetime:
    """The first moment after ``now`` that is ``hour`` o'clock in ``zone``: when the person's next
    digest goes (a gate due before then cannot wait for it)."""
    slot = last_slot(now, hour, zone)
    # A day on from the latest slot, read again on the local clock: a change to or from summer
    # time between them moves the slot by the hour, not the digest's hour.
    return datetime.combine(slot.date() + timedelta(days=1), time(hour), tzinfo=slot.tzinfo)


class DigestRun(Message):
    """The digest workflow's and activity's input: the moment the run stands at (the schedule's
    time, from `workflow.now`)."""

    at: datetime | None = None


class DigestsSent(Message):
    """What one run of the digests came to: mails sent, items they carried, people left for the
    next run (their mail failed; their items wait)."""

    sent: int = 0
    items: int = 0
    left: int = 0
