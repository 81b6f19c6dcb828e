"""The decisions a transition takes: one model per command, each naming its update once.

This module is the data half of the command registry. Every command declares the name of the
workflow update (and signal) that carries it (``update``), the fields a person fills in on the web
app's form (``form``) and whether the web app may send it at all (``web``); `COMMANDS` lists them
once. The `bpo` client sends by that name; the workflow registers one handler per entry of
`COMMANDS`; the rules take each command's check and apply from `workflows.rules.registry`; the
command line builds its subcommands from `bpo.commands.registry`. Adding a command means a model
here (in `COMMANDS` and `Command`), an entry of each of those two registries, and its rules in a
module of their own; `tests/test_registry.py` names whichever is missing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.money import Spent
from models.plan import Person, Plan
from models.readings import finite_value, reading_value

PersonId = Annotated[str, Field(min_length=1, max_length=254, pattern=r"^[^\s\x00-\x1f]+$")]
GateKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
PeriodLabel = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")]
RequestId = Annotated[str, Field(max_length=100)]
Via = Literal["web-oidc", "web-link", "cli", "api", "feed", "slack"]
"""How the author of a command was known: signed in to the web app (single sign-on or an emailed
link), an operator at the command line, or a caller of the web app's API; ``feed`` marks readings
the transition pulled from a KPI feed itself; ``slack``, a button pressed in Slack by a Slack user
linked to the person (the web app signs it)."""
Operator = Annotated[str, Field(min_length=1, max_length=254, pattern=r"^[^\x00-\x1f]+$")]
Signature = Annotated[str, Field(min_length=1, max_length=200)]


class Message(BaseModel):
    """Base of everything Temporal carries: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Sent(Message):
    """What every command carries besides its own fields: who sent it, how, and its signature."""

    update: ClassVar[str]
    """The workflow update that carries this command, and the signal of the same name; names in
    running histories never change."""
    form: ClassVar[tuple[str, ...]] = ()
    """The fields a person fills in on the web app's form for it (a gate's decision: besides the
    gate, and its API's body too); the transition page builds each form from them."""
    audited: ClassVar[tuple[str, ...]] = ()
    """The kinds of audit row carrying it out writes: a row of such a kind is only ever a person's
    command, so it must be signed where the transition trusts keys (`infra.chain`)."""
    reported: ClassVar[tuple[str, ...]] = ()
    """Those of ``audited`` the report's and the QBR pack's decision tables show."""
    web: ClassVar[bool] = True
    """Whether a person signed in to the web app (or its API) may send it; if not, only an operator."""
    signal: ClassVar[bool] = True
    """Whether the workflow takes it as a signal of its update's name too. A command added later
    says False until a change id lets it: before, a signal of that name was refused, and a history
    that recorded one must replay as it ran."""

    request_id: RequestId | None = None
    """Makes a retried request count once; the same id again is a repeat."""
    via: Via | None = None
    operator: Operator | None = None
    """Who sent it, as the sender knows them: the operator at the command line, the identity
    provider's issuer and subject, the API token's owner."""
    signature: Signature | None = None
    """Ed25519 over the canonical form (`models.signing`), base64; required when the
    transition trusts keys."""
    signed_at: datetime | None = None
    """When the signer signed it (set by the signer, covered by the signature): an update signed
    outside the window (`workflows.rules.replays.WINDOW`) is refused."""


class Decided(Sent):
    """A command a person on the roster takes, naming them in ``by``; kept in the decision log."""

    by: PersonId


class Approve(Decided):
    """Approve an approval gate."""

    update: ClassVar[str] = "approve"
    audited: ClassVar[tuple[str, ...]] = ("approved", "amendment_approved")
    reported: ClassVar[tuple[str, ...]] = ("approved",)
    form: ClassVar[tuple[str, ...]] = ("note", "evidence")
    gate: GateKey
    note: Text | None = None
    evidence: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class Tick(Decided):
    """Tick one item of a checklist gate."""

    update: ClassVar[str] = "tick"
    audited: ClassVar[tuple[str, ...]] = ("ticked",)
    reported: ClassVar[tuple[str, ...]] = ("ticked",)
    form: ClassVar[tuple[str, ...]] = ("item", "note")
    gate: GateKey
    item: GateKey
    note: Text | None = None


class Score(Decided):
    """Score every criterion of a scorecard gate (a second scoring replaces the first)."""

    update: ClassVar[str] = "score"
    audited: ClassVar[tuple[str, ...]] = ("scored",)
    reported: ClassVar[tuple[str, ...]] = ("scored",)
    signal: ClassVar[bool] = False  # added after running transitions recorded signals of this name
    form: ClassVar[tuple[str, ...]] = ("scores", "evidence", "note")
    gate: GateKey
    scores: dict[GateKey, float] = Field(min_length=1, max_length=30)
    evidence: dict[GateKey, Annotated[str, Field(min_length=1, max_length=500)]] = Field(default={}, max_length=30)
    """A link or a reference per criterion; required for those the plan says need it."""
    note: Text | None = None

    @field_validator("scores", mode="before")
    @classmethod
    def _finite(cls, scores: object) -> object:
        # In our words, before pydantic's: a NaN or an infinity would not even cross the
        # converter (JSON has neither), and the worker would say only "Failed decoding arguments".
        if isinstance(scores, dict):
            return {criterion: finite_value(str(criterion), value) for criterion, value in scores.items()}
        return scores


class Reject(Decided):
    """Reject a gate: rework, or a halt past the rework limit."""

    update: ClassVar[str] = "reject"
    audited: ClassVar[tuple[str, ...]] = ("rejected", "amendment_rejected")
    reported: ClassVar[tuple[str, ...]] = ("rejected",)
    form: ClassVar[tuple[str, ...]] = ("reason",)
    gate: GateKey
    reason: Text


class Waive(Decided):
    """Pass a gate without its condition."""

    update: ClassVar[str] = "waive"
    audited: ClassVar[tuple[str, ...]] = ("waived",)
    reported: ClassVar[tuple[str, ...]] = ("waived",)
    form: ClassVar[tuple[str, ...]] = ("reason",)
    gate: GateKey
    reason: Text


class Pause(Decided):
    """Stop every clock."""

    update: ClassVar[str] = "pause"
    form: ClassVar[tuple[str, ...]] = ("reason",)
    audited: ClassVar[tuple[str, ...]] = ("paused",)
    reported: ClassVar[tuple[str, ...]] = ("paused",)
    reason: Text


class Resume(Decided):
    """Start the clocks again, reopening a rejected gate."""

    update: ClassVar[str] = "resume"
    form: ClassVar[tuple[str, ...]] = ("reason",)
    audited: ClassVar[tuple[str, ...]] = ("resumed",)
    reported: ClassVar[tuple[str, ...]] = ("resumed",)
    reason: Text | None = None


class Cancel(Decided):
    """End the transition."""

    update: ClassVar[str] = "cancel"
    form: ClassVar[tuple[str, ...]] = ("reason",)
    audited: ClassVar[tuple[str, ...]] = ("cancelled",)
    reported: ClassVar[tuple[str, ...]] = ("cancelled",)
    reason: Text


class Escalate(Decided):
    """Raise an escalation by hand now: the next level of the phase's ladder, or ``level``."""

    update: ClassVar[str] = "escalate"
    form: ClassVar[tuple[str, ...]] = ("reason", "level")
    audited: ClassVar[tuple[str, ...]] = ("escalated",)
    reason: Text
    level: int | None = Field(default=None, ge=1, le=20)


class Delegate(Decided):
    """Let ``to`` decide whatever ``person`` may until the end of ``until``; or, with ``end``,
    stop ``person``'s delegation now."""

    update: ClassVar[str] = "delegate"
    form: ClassVar[tuple[str, ...]] = ("person", "to", "until", "end")
    audited: ClassVar[tuple[str, ...]] = ("delegated", "delegation_ended")
    person: PersonId
    to: PersonId | None = None
    until: date | None = None
    end: bool = False

    @model_validator(mode="after")
    def _either(self) -> Delegate:
        if self.end and (self.to or self.until):
            raise ValueError("--end stops a delegation; it takes no --to or --until")
        if not self.end and not (self.to and self.until):
            raise ValueError("a delegation needs --to PERSON and --until DATE (or --end to stop one)")
        return self


RaidKind = Literal["risk", "action", "issue", "decision"]
Severity = Literal["low", "medium", "high", "critical"]


class RaidAdd(Decided):
    """Open an item in the RAID log: a risk, an action, an issue or a decision."""

    update: ClassVar[str] = "raid_add"
    form: ClassVar[tuple[str, ...]] = ("kind", "title", "owner", "severity", "due", "blocks")
    audited: ClassVar[tuple[str, ...]] = ("raid_added",)
    kind: RaidKind
    title: Annotated[str, Field(min_length=1, max_length=300)]
    owner: PersonId
    due: date | None = None
    severity: Severity = "medium"
    blocks: GateKey | None = None
    """A gate the item holds until it is closed."""


class RaidClose(Decided):
    """Close an item of the RAID log, saying how it was settled."""

    update: ClassVar[str] = "raid_close"
    form: ClassVar[tuple[str, ...]] = ("item", "note")
    audited: ClassVar[tuple[str, ...]] = ("raid_closed",)
    item: Annotated[str, Field(pattern=r"^[RAID]-[1-9][0-9]{0,4}$")]
    note: Text


class Amend(Decided):
    """Propose a new version of the plan; an executive sponsor approves it as ``amendment_N``."""

    update: ClassVar[str] = "amend"
    audited: ClassVar[tuple[str, ...]] = ("amendment_proposed",)
    plan: Plan
    reason: Text


class RetryNotices(Decided):
    """Send again every notification that failed for good or ran out of tries."""

    update: ClassVar[str] = "retry_notices"
    audited: ClassVar[tuple[str, ...]] = ("notices_retried",)


class ChangeRoster(Decided):
    """Add people to the roster (or replace their entry), or take them off it."""

    update: ClassVar[str] = "change_roster"
    audited: ClassVar[tuple[str, ...]] = ("roster_changed",)
    reported: ClassVar[tuple[str, ...]] = ("roster_changed",)
    add: list[Person] = Field(default=[], max_length=50)
    remove: list[PersonId] = Field(default=[], max_length=50)


class RecordReadings(Sent):
    """KPI readings for one reporting period, ``{"csat": 91.0}``."""

    update: ClassVar[str] = "record_readings"
    audited: ClassVar[tuple[str, ...]] = ("kpi_reading", "kpi_corrected")
    period: PeriodLabel
    values: dict[GateKey, float] = Field(min_length=1, max_length=50)
    by: PersonId | None = None
    correct: bool = False
    """Replaces readings already recorded for this period; needs a ``reason``."""
    reason: Text | None = None

    @field_validator("values")
    @classmethod
    def _finite(cls, values: dict[str, float]) -> dict[str, float]:
        for metric, value in values.items():
            reading_value(metric, value)
        return values


class ReadingsBatch(Sent):
    """Several periods' readings recorded together: all of them, or none if any is refused."""

    update: ClassVar[str] = "record_batch"
    audited: ClassVar[tuple[str, ...]] = ("kpi_reading", "kpi_corrected")
    batches: list[RecordReadings] = Field(min_length=1, max_length=2000)


class PullFeed(Decided):
    """Pull a KPI feed now: the periods due and missing, and any completed ``periods`` named."""

    update: ClassVar[str] = "pull_feed"
    form: ClassVar[tuple[str, ...]] = ("feed", "periods")
    audited: ClassVar[tuple[str, ...]] = ("feed_pull_requested",)
    feed: GateKey | None = None
    """The source to pull; every source when left out."""
    periods: list[PeriodLabel] = Field(default=[], max_length=12)


class Note(Decided):
    """A free-text note on the transition's audit trail, by anyone on the roster."""

    update: ClassVar[str] = "note"
    form: ClassVar[tuple[str, ...]] = ("text",)
    audited: ClassVar[tuple[str, ...]] = ("noted",)
    reported: ClassVar[tuple[str, ...]] = ("noted",)
    signal: ClassVar[bool] = False  # added after running transitions recorded signals of this name
    text: Text


class RecordCost(Decided):
    """Record an actual cost of the transition, in the business case's currency."""

    update: ClassVar[str] = "cost"
    form: ClassVar[tuple[str, ...]] = ("amount", "category", "note")
    audited: ClassVar[tuple[str, ...]] = ("cost_recorded",)
    reported: ClassVar[tuple[str, ...]] = ("cost_recorded",)
    signal: ClassVar[bool] = False  # added after running transitions recorded signals of this name
    amount: Spent
    category: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
    """What it was spent on, as a key the program office chooses (``travel``, ``severance``)."""
    note: Text


PublicKey = Annotated[str, Field(min_length=1, max_length=100)]


class TrustKeys(Sent):
    """Add or remove public keys the transition trusts; signed by a key it trusts already."""

    update: ClassVar[str] = "trust_keys"
    audited: ClassVar[tuple[str, ...]] = ("keys_rotated",)
    web: ClassVar[bool] = False  # keys rotate with an operator's key only
    add: list[PublicKey] = Field(default=[], max_length=20)
    remove: list[PublicKey] = Field(default=[], max_length=20)
    by: PersonId | None = None

    @field_validator("add", "remove")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        from models.keys import public_key  # only where keys are given: `bpo status` loads no crypto

        for key in keys:
            public_key(key, canonical=True)  # a ValueError that says what is wrong with it
        return [k.strip() for k in keys]

    @model_validator(mode="after")
    def _something(self) -> TrustKeys:
        if not self.add and not self.remove:
            raise ValueError("name a key to --add or to --remove")
        return self


GateDecision = Approve | Tick | Score | Reject | Waive
Control = Pause | Resume | Cancel | ChangeRoster | Escalate | Delegate | RetryNotices
Raid = RaidAdd | RaidClose
Command = (
    GateDecision | Control | Raid | Amend | PullFeed | RecordReadings | ReadingsBatch | TrustKeys | Note | RecordCost
)
"""Every command a transition takes."""

COMMANDS: tuple[type[Command], ...] = (
    Approve,
    Tick,
    Reject,
    Waive,
    Pause,
    Resume,
    Cancel,
    ChangeRoster,
    Escalate,
    RecordReadings,
    ReadingsBatch,
    Delegate,
    RetryNotices,
    RaidAdd,
    RaidClose,
    Amend,
    PullFeed,
    TrustKeys,
    Score,
    Note,
    RecordCost,
)
"""The command table, in the order the workflow registers its update handlers: each member of
`Command` once (`tests/test_registry.py` holds it)."""

BY_UPDATE: dict[str, type[Command]] = {cls.update: cls for cls in COMMANDS}
"""Each command by its update's name, which is also its signal's and its `bpo` subcommand's."""
