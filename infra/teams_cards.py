"""Notices as Microsoft Teams messages: an Adaptive Card (schema 1.5) in the message shape a Teams
Workflows or incoming webhook takes. A request or a reminder shows its gate's name, the notice's
words, the gate's facts (whom it waits on, what it needs, who has signed, when it is due) and an
**Open the gate** button to its page in the web app; any other notice its subject and words, with
a button to the transition's page.

No decision buttons: a person decides on the gate's page, signed in there as usual (sign-in links
travel only by the deployment's mail). Texts are cut to lengths a card keeps readable, and a
plan's words are escaped, so Teams' markdown never turns them into a link or a heading."""

from __future__ import annotations

import re
from typing import Any

from models.deliveries import Notice
from models.notice_facts import fact_rows, gate_facts, page_path

CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
TITLE_MAX, TEXT_MAX, FACT_MAX = 200, 2000, 500
"""A heading's, the words', and one fact's most characters (Teams takes a message up to about
28 KB; a long plan name must not cost the whole card)."""
MARKDOWN = re.compile(r"([\\`*_\[\]])")
"""What Teams' markdown reads as emphasis, code or a link: escaped in a plan's words."""


def cut(text: str, most: int) -> str:
    """``text`` within ``most`` characters, an ellipsis marking a cut."""
    return text if len(text) <= most else text[: most - 1] + "…"


def plain(text: str, most: int = TEXT_MAX) -> str:
    """``text`` as Teams shows it, its markdown characters escaped, within ``most`` characters."""
    return MARKDOWN.sub(r"\\\1", cut(text, most))


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def notice_card(notice: Notice, web_url: str | None) -> dict[str, Any]:
    """The Adaptive Card of ``notice``."""
    facts = gate_facts(notice)
    rows: list[tuple[str, str]] = []
    if facts:
        rows += fact_rows(notice, facts)
    body: list[dict[str, Any]] = [
        _text(
            plain(facts.name if facts else notice.subject, TITLE_MAX), style="heading", size="Large", weight="Bolder"
        ),
        _text(plain(notice.text)),
    ]
    if rows:
        body.append({"type": "FactSet", "facts": [{"title": t, "value": plain(v, FACT_MAX)} for t, v in rows]})
    body.append(_text(plain(f"Transition {notice.transition_id}", TITLE_MAX), isSubtle=True, size="Small"))
    card: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": VERSION,
        "body": body,
        "fallbackText": cut(notice.subject, TEXT_MAX),
        "msteams": {"width": "Full"},
    }
    if web_url:
        title = "Open the gate" if facts else "Open the transition"
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": title, "url": f"{web_url.rstrip('/')}{page_path(notice)}"}
        ]
    return card


def teams_message(notice: Notice, web_url: str | None) -> dict[str, Any]:
    """What a Teams Workflows or incoming webhook takes: a message with the card attached."""
    return {
        "type": "message",
        "attachments": [{"contentType": CARD, "contentUrl": None, "content": notice_card(notice, web_url)}],
    }
