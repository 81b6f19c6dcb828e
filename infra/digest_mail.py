"""A person's daily digest as mail: every notice held for them in one message, a plain-text part
and an HTML part saying the same (each notice's transition, its words and, for a gate, the gate's
name, what it needs and when it is due), with their own sign-in link to what waits on them.
Written as `infra.mail` writes a notice's mail: inline styles, no image, every value escaped."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from html import escape

from infra.mail import ACCENT, DOMAIN, INK, MUTED
from models.deliveries import Notice
from models.notice_facts import gate_facts, when_text

LABEL = "Open what waits on you"


def item_rows(notice: Notice) -> list[tuple[str, str]]:
    """What the digest tells of one held notice, as (label, value)."""
    rows = [("Transition", notice.transition_id)]
    facts = gate_facts(notice)
    if facts is not None:
        rows.append(("Gate", facts.name))
        if facts.needs:
            rows.append(("Needs", facts.needs))
        if facts.due:
            rows.append(("Due", when_text(facts.due)))
    return rows


def _plain(notices: list[Notice], link: str | None) -> str:
    lines = [f"{len(notices)} notice{'s' if len(notices) != 1 else ''} since your last digest.", ""]
    for n, notice in enumerate(notices, 1):
        lines += [f"{n}. {notice.subject}", f"   {notice.text}"]
        lines += [f"   {name}: {value}" for name, value in item_rows(notice)]
        lines.append("")
    if link:
        lines += [f"{LABEL} here (the link signs you in once): {link}", ""]
    lines += ["You chose a daily digest on your page (/me); reminders and escalations still come at once.", ""]
    return "\n".join(lines)


def _html(subject: str, notices: list[Notice], link: str | None) -> str:
    items = "".join(
        f'<li style="margin:0 0 16px"><h2 style="font-size:18px;margin:0 0 4px">{escape(n.subject)}</h2>'
        f'<p style="margin:0 0 4px">{escape(n.text)}</p><table style="border-collapse:collapse">'
        + "".join(
            f'<tr><th scope="row" style="text-align:left;padding:2px 16px 2px 0;vertical-align:top">{escape(k)}</th>'
            f'<td style="padding:2px 0">{escape(v)}</td></tr>'
            for k, v in item_rows(n)
        )
        + "</table></li>"
        for n in notices
    )
    button = (
        f'<p style="margin:24px 0"><a href="{escape(link)}" style="display:inline-block;padding:12px 24px;'
        f'background:{ACCENT};color:#ffffff;border-radius:4px;font-weight:bold;text-decoration:none">'
        f"{LABEL}</a></p>"
        f'<p style="color:{MUTED};font-size:14px">The button signs you in once. If it does not open, '
        f"copy this address into your browser: {escape(link)}</p>"
        if link
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(subject)}</title></head>\n"
        f'<body style="margin:0;padding:24px;background:#ffffff;color:{INK};'
        'font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5">\n'
        '<main style="max-width:600px">\n'
        f'<h1 style="font-size:22px;margin:0 0 16px">{escape(subject)}</h1>\n'
        f'<ol style="padding-left:20px">{items}</ol>\n{button}\n'
        f'<footer><p style="color:{MUTED};font-size:14px">You chose a daily digest on your page (/me); '
        "reminders and escalations still come at once.</p></footer>\n</main>\n</body>\n</html>\n"
    )


def digest_mail(sender: str, address: str, notices: list[Notice], link: str | None) -> EmailMessage:
    """``address``'s digest of ``notices``, with ``link`` (theirs, a single-use sign-in link to
    ``/``) as its button. Its Message-ID is made from the notices it carries, so a digest sent
    again after a crash is recognisably the same."""
    subject = f"Your bpo-transition digest: {len(notices)} notice{'s' if len(notices) != 1 else ''}"
    carried = "\n".join(sorted(n.id for n in notices))
    key = hashlib.sha256(f"digest\n{address.lower()}\n{carried}".encode()).hexdigest()[:32]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = address
    message["Subject"] = subject
    message["Message-ID"] = f"<{key}@{DOMAIN}>"
    message.set_content(_plain(notices, link))
    message.add_alternative(_html(subject, notices, link), subtype="html")
    return message
