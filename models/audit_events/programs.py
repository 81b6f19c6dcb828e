"""What a program writes of its workstreams (`workflows.rules.program`)."""

from __future__ import annotations

from typing import Literal

from models.audit_events.base import Event


class OfWorkstream(Event):
    """A row about one workstream of the program, named by its key."""

    workstream: str | None = None


class WorkstreamStarted(OfWorkstream):
    """The program started a workstream; ``id`` is its transition id (``PROGRAM/KEY``)."""

    kind: Literal["workstream_started"] = "workstream_started"
    id: str | None = None


class WorkstreamPhasePassed(OfWorkstream):
    """A workstream reported a phase passed."""

    kind: Literal["workstream_phase_passed"] = "workstream_phase_passed"
    passed: str | None = None


class WorkstreamCompleted(OfWorkstream):
    """A workstream reported it completed its last phase."""

    kind: Literal["workstream_completed"] = "workstream_completed"


class WorkstreamCancelled(OfWorkstream):
    """A workstream was cancelled: on its own (it reported so), or with its program before it started."""

    kind: Literal["workstream_cancelled"] = "workstream_cancelled"
    reason: str | None = None


class WorkstreamBlocked(OfWorkstream):
    """A workstream can never start (what it waits for was cancelled, or its start failed)."""

    kind: Literal["workstream_blocked"] = "workstream_blocked"
    reason: str | None = None


class WorkstreamUnblocked(OfWorkstream):
    """An amendment dropped what held a blocked workstream: it waits to start again."""

    kind: Literal["workstream_unblocked"] = "workstream_unblocked"
