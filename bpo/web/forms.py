"""The transition page's forms, built from the command registry: each command's ``form`` fields
(`models.commands`) become labelled inputs chosen by the field's type, offered only where the
workflow's ``offered`` query says the person may send it, and read back from a posted form.

A new command gets its form by declaring its ``form`` fields; its place on the page is `PLACES`
(the "Running the transition" section when it names none). The roster change and the amendment,
whose fields are a person and a plan, have forms of their own in the template.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import MaxLen

from models.commands import BY_UPDATE, Amend, ChangeRoster, Command
from models.names import named
from models.plan import Person, Plan
from models.status import TransitionStatus
from workflows.rules.offered import office_commands

CUSTOM = (ChangeRoster, Amend)
"""Commands whose form is written out in the template: a roster entry, a plan's YAML."""

PLACES = {
    "raid_add": "raid",
    "raid_close": "raid",
    "escalate": "escalations",
    "pull_feed": "kpis",
    "change_roster": "roster",
    "delegate": "roster",
    "amend": "amendments",
    "cost": "value",
}
"""The section of the transition page each command's form sits in; any other: ``running``."""

TITLES = {
    "pause": "Pause the transition",
    "resume": "Resume the transition",
    "cancel": "Cancel the transition",
    "escalate": "Escalate now",
    "delegate": "Delegate decisions",
    "raid_add": "Open a RAID item",
    "raid_close": "Close a RAID item",
    "retry_notices": "Send failed notifications again",
    "pull_feed": "Pull a KPI feed now",
    "note": "Add a note to the audit trail",
    "cost": "Record a cost",
    "change_roster": "Change the roster",
    "amend": "Propose an amendment",
    "amendment": "Decide an amendment",
}
"""A form's heading; else the command's name in words."""

LABELS = {
    "level": "Ladder level (the next one if left empty)",
    "person": "Decisions of",
    "to": "Taken by",
    "until": "Until the end of",
    "end": "End this person's delegation instead",
    "owner": "Owner",
    "due": "Due",
    "blocks": "Holds the gate until closed",
    "item": "Item",
    "note": "How it was settled",
    "feed": "Feed (every feed if left empty)",
    "periods": "Periods to pull again (e.g. 2027-01, space-separated; optional)",
    "text": "Note",
    "cost.amount": "Amount, to the cent (in the business case's currency)",
    "cost.category": "Category (travel, severance, tooling, ...)",
    "cost.note": "What it was (an invoice, a purchase order)",
}
"""A field's label (``update.field`` for one command's own); else its name in words."""

HINTS = {
    "pause": "Stops every clock of the transition: no deadline runs and nothing escalates until it is resumed.",
    "resume": "Starts the clocks again; a gate that was rejected opens again for its rework.",
    "cancel": "Ends the transition for good. It cannot be resumed afterwards.",
    "escalate": "Raises an escalation now, notified like a timed one: the next level of the phase's ladder, "
    "or the level you name.",
    "delegate": "Lets someone else take the decisions a person may take, until the end of the day you pick; "
    "or ends that person's delegation now.",
    "raid_add": "Records a risk, an action, an issue or a decision, with its owner; an item may hold a gate "
    "until it is closed.",
    "raid_close": "Closes an item of the RAID log, saying how it was settled.",
    "retry_notices": "Sends again every notification that failed for good or ran out of tries.",
    "pull_feed": "Asks a KPI feed now for the periods that are due or missing, and for any ended periods you name.",
    "note": "Adds a note to the audit trail, where everyone on the roster reads it.",
    "cost": "Records what the transition actually cost, in the business case's currency.",
    "change_roster": "Adds someone to the roster (or replaces their entry), or takes someone off it.",
    "amend": "Paste the new version of the plan, or upload it; its changes are shown before anything is "
    "proposed. An executive sponsor then approves or rejects it.",
}
"""A form's hint, in a sentence or two a person reads; every command of `office_commands` has one."""

DANGER = ("cancel",)


@dataclass(frozen=True)
class Input:
    """One field of a command's form, as the template draws it."""

    name: str
    label: str
    kind: Literal["text", "textarea", "select", "date", "number", "checkbox", "words"]
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None


@dataclass(frozen=True)
class Form:
    """A command's form: where it posts, what it asks, and where on the page it sits."""

    update: str
    title: str
    hint: str
    place: str
    inputs: tuple[Input, ...]
    danger: bool = False


def _bare(annotation: Any) -> tuple[Any, bool]:
    """The type under an optional (``X | None``) and whether None was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), True
    return annotation, False


def inputs_of(command_type: type[Command], choices: dict[str, list[tuple[str, str]]]) -> tuple[Input, ...]:
    """The inputs of ``command_type``'s ``form`` fields; a field with ``choices`` is a list to pick from."""
    found = []
    for name in command_type.form:
        info = command_type.model_fields[name]
        bare, _ = _bare(info.annotation)
        own = LABELS.get(f"{command_type.update}.{name}")
        label = own or LABELS.get(name, name.replace("_", " ").capitalize())
        longest = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)
        required = info.is_required()
        if name in choices:
            picks = tuple(choices[name]) if required else (("", "—"), *choices[name])
            found.append(Input(name, label, "select", required, picks))
        elif get_origin(bare) is Literal:
            found.append(Input(name, label, "select", required, tuple((str(a), str(a)) for a in get_args(bare))))
        elif bare is bool:
            found.append(Input(name, label, "checkbox", False))
        elif bare is date:
            found.append(Input(name, label, "date", required))
        elif bare is int:
            found.append(Input(name, label, "number", required))
        elif get_origin(bare) is list:
            found.append(Input(name, label, "words", required))
        else:
            kind: Literal["text", "textarea"] = "textarea" if longest and longest > 500 else "text"
            found.append(Input(name, label, kind, required, max_length=longest))
    return tuple(found)


def forms_for(offered: dict[str, list[str]], status: TransitionStatus, plan: Plan, people: list[Person]) -> list[Form]:
    """The forms of the commands ``offered`` (the workflow's answer for this person), each aimed
    only at what the rules allow: the first field of a command aimed at something (an item, a
    person) lists those."""
    everyone = [(p.id, f"{p.name} ({p.id})") for p in people]
    ahead = [(g.key, named(g.key, g.name)) for p in plan.phases[status.phase_number - 1 :] for g in p.gates]
    base = {
        "owner": everyone,
        "to": everyone,
        "person": everyone,
        "blocks": ahead,
        "feed": [(f, f) for f in status.feeds],
    }
    forms = []
    for command_type in office_commands():
        targets = offered.get(command_type.update)
        if not targets:
            continue
        update = command_type.update
        choices = dict(base)
        if targets != [""] and command_type.form:  # aimed at something: only what the rules allow
            labels = dict(everyone) | {i.id: f"{i.id} {i.title}" for i in status.raid}
            choices[command_type.form[0]] = [(t, labels.get(t, t)) for t in targets]
        title = TITLES.get(update, update.replace("_", " ").capitalize())
        inputs = () if command_type in CUSTOM else inputs_of(command_type, choices)
        forms.append(
            Form(update, title, HINTS.get(update, ""), PLACES.get(update, "running"), inputs, update in DANGER)
        )
    return forms


def posted(update: str, form: Any) -> dict[str, Any]:
    """The fields of command ``update``'s form as posted: words stripped, a ticked box True, a
    list split on spaces and commas; what was left empty is left out."""
    command_type = BY_UPDATE[update]
    if command_type is ChangeRoster:
        return roster_change(form)
    fields: dict[str, Any] = {}
    # Only the command's own fields are read: any other name posted (a hand-made ``gate`` on a
    # pause, say) is ignored, never looked up among fields the command does not have.
    for name in ("gate", *command_type.form):
        raw = form.get(name)
        if name not in command_type.model_fields:
            continue
        if not isinstance(raw, str) or not raw.strip():
            continue
        bare, _ = _bare(command_type.model_fields[name].annotation)
        if bare is bool:
            fields[name] = True
        elif get_origin(bare) is list:
            fields[name] = [w for w in re.split(r"[\s,]+", raw.strip()) if w][:50]
        else:
            fields[name] = raw.strip()
    return fields


CLI_NAMES = {"delegate.from": "person", "pull_feed.period": "periods"}
"""A command-line option named otherwise than its field (``bpo delegate --from`` sets ``person``)."""

_FLAG = re.compile(r"--([a-z][a-z-]*)(?: [A-Z][A-Z_]*\b)?")


def in_form_words(update: str, words: str) -> str:
    """A refusal of command ``update`` as its form says it: where the rules' or the model's words
    name a command-line option of a field the form asks for (``--until DATE``), the field's label
    ("Until the end of") takes its place. What `bpo` prints stays as it is."""
    command_type = BY_UPDATE.get(update)
    if command_type is None:
        return words
    asked = set(command_type.form)

    def label(match: re.Match[str]) -> str:
        flag = match.group(1)
        name = CLI_NAMES.get(f"{update}.{flag}", flag.replace("-", "_"))
        if name not in asked:
            return match.group(0)
        said = LABELS.get(f"{update}.{name}") or LABELS.get(name, name.replace("_", " ").capitalize())
        return f"“{said.split(' (', 1)[0]}”"  # the label's words, without its parenthetical help

    return _FLAG.sub(label, words)


def roster_change(form: Any) -> dict[str, Any]:
    """A roster change as its form posts it: one person added (or their entry replaced), and one
    taken off."""
    said = {k: str(form.get(k, "")).strip() for k in ("add_id", "add_name", "add_org", "add_roles", "add_email")}
    add = []
    if said["add_id"]:
        roles = [r for r in re.split(r"[\s,]+", said["add_roles"]) if r][:20]
        entry = {"id": said["add_id"], "name": said["add_name"], "org": said["add_org"] or "client", "roles": roles}
        add.append(entry | ({"email": said["add_email"]} if said["add_email"] else {}))
    removed = str(form.get("remove", "")).strip()
    return {"add": add, "remove": [removed] if removed else []}
