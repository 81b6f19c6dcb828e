"""Notices as Slack messages (Block Kit): an approval request or a reminder shows its gate, what
it asks, whom it waits on and when it is due, with **Approve**, **Reject** and **Open** buttons;
any other notice is a section with its text. The web app redraws a decided request with who
decided (`decided_blocks`). Every text is cut to Block Kit's limits, so a long plan name never
makes Slack refuse the whole message."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from models.deliveries import Notice
from models.names import named
from models.notice_facts import GATE_NOTICES, when_text
from models.slack import APPROVE, OPEN, REASON, REJECT, REJECT_VIEW, ButtonValue, RejectMetadata
from models.status import GateStatus

DECIDABLE = GATE_NOTICES
"""Notices about a gate that waits on people: their messages carry the buttons."""
HEADER_MAX, SECTION_MAX, FIELD_MAX, FALLBACK_MAX = 150, 3000, 2000, 4000
"""Block Kit's limits: a header's text, a section's text, one of a section's fields, and (Slack's
advice) a message's plain ``text``."""


def cut(text: str, most: int) -> str:
    """``text`` within ``most`` characters, an ellipsis marking a cut."""
    return text if len(text) <= most else text[: most - 1] + "…"


def escaped(text: str) -> str:
    """``text`` safe inside Slack's mrkdwn: its three control characters escaped, so a plan's
    words never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, most: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, most), "emoji": False}


def _mrkdwn(text: str, most: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut(text, most)}


def _fields(facts: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [_mrkdwn(f"*{label}*\n{escaped(value)}", FIELD_MAX) for label, value in facts[:10]],
    }


def gate_url(web_url: str | None, path: str) -> str | None:
    """The gate's page in the web app, when its address is known."""
    return f"{web_url.rstrip('/')}{path}" if web_url else None


def buttons(transition_id: str, gate: str, url: str | None, decide: bool = True) -> dict[str, Any] | None:
    """The actions block: Approve and Reject (while the gate is open), and Open, a link to the
    gate's page; none when no button is left (an actions block may not be empty)."""
    value = ButtonValue(t=transition_id, g=gate).model_dump_json()
    elements: list[dict[str, Any]] = []
    if decide:
        elements += [
            {"type": "button", "action_id": APPROVE, "text": _plain("Approve", 75), "style": "primary", "value": value},
            {"type": "button", "action_id": REJECT, "text": _plain("Reject", 75), "style": "danger", "value": value},
        ]
    if url:
        elements.append({"type": "button", "action_id": OPEN, "text": _plain("Open", 75), "url": cut(url, 3000)})
    return {"type": "actions", "block_id": "bpo_gate", "elements": elements} if elements else None


def _when(value: Any) -> str:
    if isinstance(value, str):  # a notice's due crosses the history as an ISO moment
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    return when_text(value) if isinstance(value, datetime) else str(value)


def notice_blocks(notice: Notice, web_url: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and the blocks of ``notice`` as a Slack message."""
    gate, path = notice.detail.get("gate"), notice.detail.get("path")
    text = cut(notice.subject, FALLBACK_MAX)
    if notice.kind not in DECIDABLE or not isinstance(gate, str) or not isinstance(path, str):
        return text, [
            {"type": "section", "text": _mrkdwn(f"*{escaped(notice.subject)}*\n{escaped(notice.text)}")},
            {"type": "context", "elements": [_mrkdwn(f"Transition {escaped(notice.transition_id)}", 2000)]},
        ]
    facts = [("Waits on", ", ".join(r.name for r in notice.recipients) or "—")]
    # Facts the notice carries besides its words (a notice may name what the gate needs, who
    # has signed and its due date in its detail); the words below say them in any case.
    detail = notice.detail
    if detail.get("needs"):
        facts.append(("Needs", str(detail["needs"])))
    if isinstance(detail.get("signed"), list):
        facts.append(("Signed", ", ".join(map(str, detail["signed"])) or "nobody yet"))
    if detail.get("due"):
        facts.append(("Due", _when(detail["due"])))
    blocks = [
        {"type": "header", "text": _plain(named(gate, str(detail.get("gate_name") or "")), HEADER_MAX)},
        {"type": "section", "text": _mrkdwn(escaped(notice.text))},
        _fields(facts),
        buttons(notice.transition_id, gate, gate_url(web_url, path)),
        {"type": "context", "elements": [_mrkdwn(f"Transition {escaped(notice.transition_id)}", 2000)]},
    ]
    return text, [b for b in blocks if b]


def decided_blocks(
    transition_id: str, gate: GateStatus, name: str, outcome: str, web_url: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """A request redrawn once someone decided: ``outcome`` (``Approved by Dana Whitfield``) and
    the gate as it stands, what it needs, whom it still waits on, its due date; the buttons stay
    while the gate is open."""
    facts = [("Status", gate.status), ("Needs", gate.progress or "—")]
    facts.append(("Waits on", ", ".join(gate.waiting_for) or "nobody"))
    if gate.due_at:
        facts.append(("Due", _when(gate.due_at)))
    url = gate_url(web_url, f"/t/{transition_id}/gates/{gate.key}")
    blocks = [
        {"type": "header", "text": _plain(name, HEADER_MAX)},
        {"type": "section", "text": _mrkdwn(f"*{escaped(outcome)}* (via Slack)")},
        _fields(facts),
        buttons(transition_id, gate.key, url, decide=gate.status == "open"),
        {"type": "context", "elements": [_mrkdwn(f"Transition {escaped(transition_id)}", 2000)]},
    ]
    return cut(f"{name}: {outcome}", FALLBACK_MAX), [b for b in blocks if b]


def reject_modal(meta: RejectMetadata, name: str) -> dict[str, Any]:
    """The modal a Reject press opens: the gate's name and a required reason; its submission
    comes back as a ``view_submission`` carrying ``meta``."""
    return {
        "type": "modal",
        "callback_id": REJECT_VIEW,
        "private_metadata": meta.model_dump_json(exclude_none=True),
        "title": _plain("Reject the gate", 24),
        "submit": _plain("Reject", 24),
        "close": _plain("Cancel", 24),
        "blocks": [
            {
                "type": "section",
                "text": _mrkdwn(f"Reject *{escaped(name)}*? Its phase goes back for rework, and everyone is told why."),
            },
            {
                "type": "input",
                "block_id": REASON,
                "label": _plain("Why it is rejected", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON,
                    "multiline": True,
                    "min_length": 1,
                    "max_length": 2000,
                },
            },
        ],
    }
