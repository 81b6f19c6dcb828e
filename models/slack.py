"""What Slack sends the web app when a person presses a button of ours (an interactivity payload
of type ``block_actions``), and what our buttons carry. Slack's payloads hold many more fields
than these; the ones read here are checked, the rest ignored (Slack adds fields over time)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.base import Strict

SlackId = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,32}$")]
"""A Slack team, user or channel id (``T0123ABC``, ``U0456DEF``, ``C0789GHI``)."""

APPROVE, REJECT, OPEN = "bpo_approve", "bpo_reject", "bpo_open"
"""Our buttons' ``action_id`` values."""
REJECT_VIEW, REASON = "bpo_reject", "reason"
"""The reject modal's ``callback_id``, and the block and action id of its reason."""


class ButtonValue(Strict):
    """What an Approve or Reject button carries back: which transition and gate it decides."""

    t: str = Field(min_length=1, max_length=300)
    """The transition id."""
    g: str = Field(min_length=1, max_length=100)
    """The gate's key."""


class RejectMetadata(Strict):
    """What the reject modal carries (its ``private_metadata``): the gate, and the message to
    redraw once decided."""

    t: str = Field(min_length=1, max_length=300)
    g: str = Field(min_length=1, max_length=100)
    c: SlackId | None = None
    """The channel of the pressed message."""
    m: str | None = Field(default=None, max_length=40)
    """The pressed message's timestamp."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlackUser(_Loose):
    """Who pressed: their Slack user id (and team, on older payloads)."""

    id: SlackId
    team_id: SlackId | None = None
    name: str | None = Field(default=None, max_length=200)


class SlackTeam(_Loose):
    """The Slack workspace the press came from."""

    id: SlackId


class SlackAction(_Loose):
    """One button press."""

    action_id: str = Field(max_length=255)
    value: str | None = Field(default=None, max_length=2000)
    action_ts: str = Field(default="", max_length=40)


class SlackContainer(_Loose):
    """Where the pressed button was: the message's channel and timestamp."""

    type: str = Field(max_length=40)
    channel_id: SlackId | None = None
    message_ts: str | None = Field(default=None, max_length=40)


class BlockActions(_Loose):
    """A ``block_actions`` payload: a person pressed a button of one of our messages."""

    type: Literal["block_actions"]
    user: SlackUser
    team: SlackTeam | None = None
    actions: list[SlackAction] = Field(min_length=1, max_length=5)
    response_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=1000)
    trigger_id: str | None = Field(default=None, max_length=200)
    container: SlackContainer | None = None

    @property
    def team_id(self) -> str:
        """The press's workspace (``team.id``, else ``user.team_id``); empty when neither is given."""
        return (self.team.id if self.team else None) or self.user.team_id or ""


class InputValue(_Loose):
    """What a person typed into a modal's input."""

    value: str | None = Field(default=None, max_length=3000)


class ViewState(_Loose):
    """A modal's inputs by block id, then action id."""

    values: dict[str, dict[str, InputValue]] = {}


class SlackView(_Loose):
    """The modal submitted."""

    id: str = Field(default="", max_length=40)
    callback_id: str = Field(default="", max_length=255)
    private_metadata: str = Field(default="", max_length=3000)
    state: ViewState = ViewState()


class ViewSubmission(_Loose):
    """A ``view_submission`` payload: a person submitted one of our modals (the reject reason)."""

    type: Literal["view_submission"]
    user: SlackUser
    team: SlackTeam | None = None
    view: SlackView

    @property
    def team_id(self) -> str:
        """The submission's workspace."""
        return (self.team.id if self.team else None) or self.user.team_id or ""


class SlackPayload(_Loose):
    """Any interactivity payload, read for its ``type`` first."""

    type: str = Field(max_length=40)


class SlackProfile(_Loose):
    """The parts of a Slack user's profile read when linking: their address and names."""

    email: str | None = Field(default=None, max_length=320)
    real_name: str | None = Field(default=None, max_length=300)
    display_name: str | None = Field(default=None, max_length=300)


class SlackMember(_Loose):
    """A Slack user as ``users.info`` tells of them: who they are, and whether they may be linked
    at all (a bot, an app or a deactivated account never is)."""

    id: SlackId
    team_id: SlackId | None = None
    name: str | None = Field(default=None, max_length=300)
    deleted: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    is_email_confirmed: bool | None = None
    """Whether the person proved the address to Slack; absent in some answers, and then not held
    against them."""
    profile: SlackProfile = SlackProfile()

    @property
    def shown(self) -> str:
        """How to name them to a person: their Slack name and id (never their address)."""
        name = self.profile.display_name or self.profile.real_name or self.name
        return f"{self.id} ({name})" if name else self.id
