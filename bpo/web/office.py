"""Who may start a transition from the web app or its API: the program office named by the
deployment (``BPO_PROGRAM_OFFICE``), never whoever an uploaded plan's own roster says."""

from __future__ import annotations

from bpo.web.sessions import Visitor
from infra.settings import Settings

ONLY_THE_OFFICE = "Starting a transition is for the program office (BPO_PROGRAM_OFFICE)"


def may_start(settings: Settings, me: Visitor) -> bool:
    """Whether ``me`` is in the program office: their address is listed, or (signed in through the
    identity provider) one of their groups is."""
    listed = settings.program_office
    # An address is matched with addresses, a group with groups: a group named like an address,
    # or an address named like a group, opens nothing.
    addresses = {v.lower() for v in listed if "@" in v}
    groups = {v for v in listed if "@" not in v}
    return ("@" in me.email and me.email.lower() in addresses) or bool(groups & {g for g in me.groups if "@" not in g})


def refusal(me: Visitor) -> str:
    """Why ``me`` may not start a transition, and what to do about it."""
    how = "nor is any group the identity provider gave them" if me.groups else "and they hold no group that is"
    return (
        f"{ONLY_THE_OFFICE}: {me.email} is not listed there, {how}. "
        "Ask the program office to start it, or whoever runs this deployment to add you."
    )
