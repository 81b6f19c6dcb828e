"""A person at the web app, as a test plays them: an HTTP client with its own cookies that reads
each form's CSRF token from the page, as a browser would submit it."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message
from html import unescape
from typing import Any
from urllib.parse import urljoin

import httpx

LINK = re.compile(r"https?://\S+/login/link/[A-Za-z0-9_-]+")


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on ``page``."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def text_of(page: str) -> str:
    """What a person reads on ``page``: its text, tags and extra spaces removed."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def mails_to(received: list[Any], address: str) -> list[Message]:
    """The mails the SMTP receiver took for ``address``, oldest first."""
    return [message_from_bytes(e.content) for e in received if address in e.rcpt_tos]


def plain_text(mail: Message) -> str:
    """A mail's plain-text part (a notice's mail has an HTML part beside it)."""
    part = next((p for p in mail.walk() if p.get_content_type() == "text/plain"), None)
    assert part is not None, mail.as_string()[:2000]
    body = part.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode(part.get_content_charset() or "utf-8")


def link_in(mail: Message) -> str:
    """The sign-in link in a mail."""
    body = plain_text(mail)
    found = LINK.search(body)
    assert found, body
    return found.group(0)


class Person:
    """Someone with a browser's cookie jar, at ``base``."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def sign_in(self, link: str) -> httpx.Response:
        """Open an emailed link and press its button; the answer to the press."""
        opened = self.http.get(link)
        if opened.status_code != 200:
            return opened
        return self.http.post(link, data={"csrf": csrf_of(opened.text)})

    def submit(self, path: str, data: dict[str, str], form_page: str | None = None, **options: Any) -> httpx.Response:
        """Post a form at ``path`` with the CSRF token of ``form_page`` (by default, ``path``)."""
        page = self.http.get(form_page or path).text
        return self.http.post(path, data={"csrf": csrf_of(page), **data}, **options)


def through_provider(http: httpx.Client, answer: httpx.Response, address: str, until: str) -> str:
    """Fill in the provider's login and consent forms as a browser would, following redirects,
    until one leads to a URL starting with ``until``: that URL, not opened."""
    for _ in range(20):
        if answer.is_redirect:
            target = urljoin(str(answer.url), answer.headers["location"])
            if target.startswith(until):
                return target
            answer = http.get(target)
            continue
        assert answer.status_code == 200, answer.text[:2000]
        form = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
        assert form, answer.text[:2000]
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', answer.text))
        if 'name="login"' in answer.text:
            fields |= {"login": address, "password": "anything"}
        answer = http.post(urljoin(str(answer.url), unescape(form.group(1))), data=fields)
    raise AssertionError(f"the provider never sent the browser to {until}")
