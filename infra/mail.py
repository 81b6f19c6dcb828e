"""Notices as mail that reads like mail: one message per person, each with a plain-text part and
an HTML part saying the same (the notice's words, the gate's facts, a button-styled link), and an
approval request with its gate's due date as an iCalendar attachment.

The HTML is written for mail programs and screen readers alike: a ``lang``, one ``h1``, the facts
as a table with row headers, styles inline (mail programs drop style sheets), no image and nothing
fetched from elsewhere (a remote image tells the sender when the mail was read), every value from
the plan escaped."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from email.message import EmailMessage
from html import escape

import icalendar

from models.deliveries import Notice, Recipient
from models.notice_facts import GateFacts, fact_rows, gate_facts

DOMAIN = "bpo-transition"
INK, ACCENT, MUTED = "#1a1a1a", "#1f4e8c", "#555555"
"""Text, button and footnote colours: each at least 7:1 against white (WCAG AAA), white on the
button too."""


def one_line(text: str) -> str:
    """A header's value on one line: a plan's name may hold a line break (YAML's ``>`` adds one),
    which a mail header may not, and one would stop every mail of the transition."""
    return " ".join(text.split())


def facts_of(notice: Notice, facts: GateFacts | None) -> list[tuple[str, str]]:
    """The facts a mail lists under the notice's words, as (label, value)."""
    if facts is None:
        return []
    return [("Gate", facts.name), *fact_rows(notice, facts)]


def _plain(notice: Notice, rows: list[tuple[str, str]], link: str | None, label: str) -> str:
    lines = [notice.text, ""]
    lines += [f"{name}: {value}" for name, value in rows]
    if link:
        lines += ["", f"{label} here (the link signs you in once): {link}"]
    lines += ["", f"Transition: {notice.transition_id}", f"Notification: {notice.id}", ""]
    return "\n".join(lines)


def _html(notice: Notice, heading: str, rows: list[tuple[str, str]], link: str | None, label: str) -> str:
    table = "".join(
        f'<tr><th scope="row" style="text-align:left;padding:4px 16px 4px 0;vertical-align:top">{escape(name)}</th>'
        f'<td style="padding:4px 0">{escape(value)}</td></tr>'
        for name, value in rows
    )
    button = (
        f'<p style="margin:24px 0"><a href="{escape(link)}" style="display:inline-block;padding:12px 24px;'
        f'background:{ACCENT};color:#ffffff;border-radius:4px;font-weight:bold;text-decoration:none">'
        f"{escape(label)}</a></p>"
        f'<p style="color:{MUTED};font-size:14px">The button signs you in once. If it does not open, '
        f"copy this address into your browser: {escape(link)}</p>"
        if link
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(notice.subject)}</title></head>\n"
        f'<body style="margin:0;padding:24px;background:#ffffff;color:{INK};'
        'font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5">\n'
        '<main style="max-width:600px">\n'
        f'<h1 style="font-size:22px;margin:0 0 16px">{escape(heading)}</h1>\n'
        f"<p>{escape(notice.text)}</p>\n"
        + (f'<table style="border-collapse:collapse">{table}</table>\n' if rows else "")
        + button
        + f'\n<footer><p style="color:{MUTED};font-size:14px">Transition {escape(notice.transition_id)}'
        f" · notification {escape(notice.id)}</p></footer>\n</main>\n</body>\n</html>\n"
    )


def due_event(notice: Notice, facts: GateFacts, gate_url: str | None) -> bytes:
    """The gate's due date as an iCalendar (``METHOD:PUBLISH``, one event). Its UID is the gate's
    (the same as `bpo calendar`'s entry for a gate with its own due), so a second request for the
    gate updates the calendar's entry instead of adding one."""
    assert facts.due is not None
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//bpo-transition//notice//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    phase = str(notice.detail.get("phase", ""))
    event.add("uid", f"{notice.transition_id}-due-{phase}-{facts.gate}@{DOMAIN}")
    event.add("dtstamp", notice.at)
    event.add("dtstart", facts.due)
    event.add("dtend", facts.due + timedelta(hours=1))
    event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: the time stays free
    event.add("summary", f"{facts.name} due")
    # The gate's page, never a sign-in link: a calendar entry is shared and kept.
    event.add("description", notice.text + (f"\n\n{gate_url}" if gate_url else ""))
    if gate_url:
        event.add("url", gate_url)
    calendar.add_component(event)
    return calendar.to_ical()


def message_id(notice: Notice, address: str) -> str:
    """A stable Message-ID per notice and person: a retried delivery is recognisably the same."""
    digest = hashlib.sha256(f"{notice.id}\n{address.casefold()}".encode()).hexdigest()[:32]
    return f"<{digest}@{DOMAIN}>"


def notice_mail(sender: str, notice: Notice, person: Recipient, link: str | None, web_url: str | None) -> EmailMessage:
    """The mail of ``notice`` to ``person`` alone: plain text and HTML, with ``link`` (theirs, a
    single-use sign-in link) as its button; an approval request with a due date carries it as
    an ``.ics``."""
    assert person.email
    facts = gate_facts(notice)
    rows = facts_of(notice, facts)
    label = "Decide on the gate" if facts else "Open the transition"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = person.email
    message["Subject"] = one_line(notice.subject)
    message["Message-ID"] = message_id(notice, person.email)
    message["X-Bpo-Notification-Id"] = notice.id
    message.set_content(_plain(notice, rows, link, label))
    message.add_alternative(_html(notice, facts.name if facts else notice.subject, rows, link, label), subtype="html")
    if facts and facts.due and notice.kind == "approval_requested":
        url = f"{web_url.rstrip('/')}{facts.path}" if web_url else None
        message.add_attachment(
            due_event(notice, facts, url),
            maintype="text",
            subtype="calendar",
            filename="due.ics",
            params={"method": "PUBLISH"},
        )
    return message
