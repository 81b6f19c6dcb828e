"""`Refused` and the vocabulary of its kinds.

A refusal's kind crosses Temporal as the type of the update's failure (and is written into the
audit entry of a refused signal); the command line and the web app read it back to choose a hint
and an HTTP status. So each value is a wire name that running transitions and their histories
already carry: a member may be added, never renamed.
"""

from __future__ import annotations

from enum import StrEnum


class RefusalKind(StrEnum):
    """Why a command was refused, with the HTTP status the JSON API answers it with and the hint
    the command line adds to it (``{id}`` stands for the transition)."""

    status: int
    hint: str | None

    def __new__(cls, value: str, status: int = 409, hint: str | None = None) -> RefusalKind:
        """A member named ``value`` on the wire; a conflict (409) unless ``status`` says otherwise."""
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.hint = hint
        return member

    @classmethod
    def of(cls, kind: str) -> RefusalKind:
        """The member named ``kind`` as it came back over the wire; `REFUSED` for a name this
        version does not know (a newer worker's, say), so a caller still answers sensibly."""
        found = cls._value2member_map_.get(str(kind))
        return found if isinstance(found, RefusalKind) else cls.REFUSED

    REFUSED = "Refused"
    """No more particular kind: the default of `bpo.errors.BpoError`."""

    # What the person asked for is malformed, or names nothing that exists.
    BAD_INPUT = "BadInput", 422
    UNKNOWN_TRANSITION = "UnknownTransition", 404
    UNKNOWN_COMMAND = "UnknownCommand"
    UNKNOWN_GATE = "UnknownGate"
    UNKNOWN_ITEM = "UnknownItem"
    UNKNOWN_METRIC = "UnknownMetric"
    UNKNOWN_PERSON = "UnknownPerson"
    BAD_PLAN = "BadPlan"

    # Temporal could not be reached: not the person's fault, and worth trying again.
    UNAVAILABLE = "Unavailable", 503

    # Who may do it.
    NOT_ALLOWED = "NotAllowed", 409, "'bpo status {id}' shows whom each gate waits for"
    NOT_SIGNED = (
        "NotSigned",
        409,
        "this transition trusts signed commands only: set BPO_SIGNING_KEY to a key it trusts",
    )
    NO_KEY = "NoKey"
    NO_SPONSOR = "NoSponsor"
    NO_DELEGATION = "NoDelegation"

    # Where the transition stands.
    ALREADY_STARTED = "AlreadyStarted"
    ENDED = "Ended"
    NOT_ENDED = "NotEnded"
    PAUSED = "Paused", 409, "resume it first: 'bpo resume {id} --by PERSON'"
    ALREADY_PAUSED = "AlreadyPaused"
    NOT_PAUSED = "NotPaused"
    GATE_NOT_OPEN = "GateNotOpen", 409, "'bpo status {id}' shows the gates of the phase under way"
    WRONG_GATE_KIND = (
        "WrongGateKind",
        409,
        "approve approval gates; tick a checklist's items with 'bpo tick {id} GATE ITEM'; "
        "a KPI gate passes on readings ('bpo kpi {id} --period LABEL METRIC=VALUE'); "
        "score a scorecard's criteria with 'bpo score {id} GATE --scores CRITERION=SCORE...'",
    )
    NO_LADDER = "NoLadder"
    ALREADY_CLOSED = "AlreadyClosed"
    NOTHING_FAILED = "NothingFailed"
    EMPTY_CHANGE = "EmptyChange"
    NO_CHANGE = "NoChange"
    BEHIND = "Behind"

    # What a decision must carry.
    EVIDENCE_REQUIRED = (
        "EvidenceRequired",
        409,
        "add --evidence REF, a link or a reference to what backs the approval; "
        "a scorecard takes one per criterion that needs it: --evidence CRITERION=REF",
    )
    EVIDENCE_REFUSED = (
        "EvidenceRefused",
        409,
        "give a link to a document, sheet, image or mail that this machine's worker can fetch, "
        "or a reference such as a document number",
    )
    REASON_REQUIRED = "ReasonRequired"

    # Readings and feeds.
    ALREADY_RECORDED = (
        "AlreadyRecorded",
        409,
        "to replace it: 'bpo kpi {id} --period LABEL METRIC=VALUE --by PERSON --correct --reason TEXT'",
    )
    NOTHING_TO_CORRECT = "NothingToCorrect"
    TOO_MANY_READINGS = "TooManyReadings"
    NO_FEED = "NoFeed"
    NOTHING_TO_PULL = "NothingToPull", 409, "'bpo feed {id}' shows each feed's next period and what has no data yet"

    # Signed commands counted once.
    REPLAYED = "Replayed"
    REFUSED_BEFORE = (
        "RefusedBefore",
        409,
        "run the command again without --request-id: each attempt gets a new request id",
    )
    STALE = "Stale"


class Refused(Exception):
    """A command the rules do not allow; the message says what is wrong and what would be right."""

    def __init__(self, message: str, kind: RefusalKind) -> None:
        super().__init__(message)
        self.kind = kind
