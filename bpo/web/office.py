"""Who may start a transition from the web app or its API: the program office named by the
deployment (``BPO_PROGRAM_OFFICE``), never whoever an uploaded plan's own roster says."""

from __future__ import annotations

from bpo.settings import Settings
from bpo.web.sessions import Visitor

ONLY_THE_OFFICE = "Starting a transition is for the program office (BPO_PROGRAM_OFFICE)"


def may_start(settings: Settings, me: Visitor) -> bool:
    """Whether ``me`` is in the program office: their address is listed, or (signed in through the
    identity provider) one of their groups is."""
    listed = settings.program_office
    return me.email.lower() in {v.lower() for v in listed} or bool(listed & set(me.groups))


def refusal(me: Visitor) -> str:
    """Why ``me`` may not start a transition, and what to do about it."""
    how = "nor is any group the identity provider gave them" if me.groups else "and they hold no group that is"
    return (
        f"{ONLY_THE_OFFICE}: {me.email} is not listed there, {how}. "
        "Ask the program office to start it, or whoever runs this deployment to add you."
    )
