"""The boundary between a plan and the deployment (trust.md, "The boundary"), as plan checks.

A plan names the deployment's connections; it never carries a mail server, a credential or a
database of its own. These checks run wherever a plan is accepted (``bpo validate``, ``bpo
start``, the web app's ``/start``, ``bpo amend``), never in the models: a transition started
before the boundary still decodes its plan, and the worker switches its unsafe channels and feeds
off (``infra.transport``, ``activities.feeds``) with a reason that names the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from models.connections import DEPLOYMENT_SMTP, DEPLOYMENT_WEBHOOK, ConnectionRefused, Connections, Kind
from models.feeds import HttpFeed, SqlFeed
from models.plan import EmailChannel, Plan, TeamsChannel, WebhookChannel

Found = tuple[tuple[str | int, ...], str]

OWN_MAIL_SERVER = (
    "a plan never names a mail server of its own (mail carries sign-in links); write "
    "smtp: ${BPO_SMTP_URL} for the deployment's mailer, or connection: NAME for one of its smtp connections"
)
SPLICED = (
    "a setting is never spliced into a longer string; write url: ${BPO_WEBHOOK_URL} as the whole value, "
    "or connection: NAME for one of the deployment's webhook connections"
)
CREDENTIAL_IN_URL = (
    "a webhook's url carries no user or password; ask the operator for a webhook connection and "
    "write connection: NAME"
)
FEED_CREDENTIAL = (
    "a plan no longer names the setting a feed's token is in; ask the operator for an http connection "
    "(its url and token_from) and write connection: NAME instead of url and token"
)
SQL_FEED = (
    "a sql feed reads the deployment's database: ask the operator for a sql connection (its "
    "database_from and query) and write connection: NAME instead of database and query"
)
CONNECTED_FEED = "the connection holds the {what}; a feed with connection: NAME gives only its name, kind and timing"


def channel_problem(channel: EmailChannel | WebhookChannel) -> str | None:
    """Why a channel that names no connection crosses the boundary, if it does."""
    if isinstance(channel, EmailChannel):
        return None if channel.connection or channel.smtp == DEPLOYMENT_SMTP else OWN_MAIL_SERVER
    url = channel.url or ""
    if channel.connection or url == DEPLOYMENT_WEBHOOK:
        return None
    if "${" in url:
        return SPLICED
    if "@" in urlsplit(url).netloc:
        return CREDENTIAL_IN_URL
    return None


def feed_problem(feed: HttpFeed | SqlFeed) -> str | None:
    """Why a feed crosses the boundary, if it does (its connection aside, checked against the file)."""
    if feed.connection:
        kept = [f for f in ("token", "database", "query") if getattr(feed, f, None)]
        return CONNECTED_FEED.format(what=" and ".join(kept)) if kept else None
    if isinstance(feed, SqlFeed):
        return SQL_FEED
    return FEED_CREDENTIAL if feed.token else None


def connection_kind(target: EmailChannel | WebhookChannel | TeamsChannel | HttpFeed | SqlFeed) -> Kind:
    """The kind of connection ``target`` may name (a Teams channel: a webhook connection, whose
    URL is the Teams webhook's)."""
    if isinstance(target, EmailChannel):
        return "smtp"
    if isinstance(target, (WebhookChannel, TeamsChannel)):
        return "webhook"
    return "sql" if isinstance(target, SqlFeed) else "http"


def boundary_check(plan: Plan, connections: Connections | None) -> list[Found]:
    """Every place ``plan`` crosses the boundary, as (path, message); each connection it names is
    looked up in ``connections`` unless that is None (the workflow, which has no connections file:
    the worker checks them at each delivery and pull)."""
    return list(_boundary(plan, connections))


def _boundary(plan: Plan, connections: Connections | None) -> Iterator[Found]:
    targets: list[
        tuple[tuple[str | int, ...], EmailChannel | WebhookChannel | TeamsChannel | HttpFeed | SqlFeed, str | None]
    ] = []
    channels: list[tuple[tuple[str | int, ...], Any]] = [(("notifications",), plan.notifications)]
    channels += [(("workstreams", wi, "notifications"), w.notifications or []) for wi, w in enumerate(plan.workstreams)]
    for root, listed in channels:  # a workstream's own channels keep to the boundary too
        for i, channel in enumerate(listed):
            if isinstance(channel, (EmailChannel, WebhookChannel)):
                field = "smtp" if isinstance(channel, EmailChannel) else "url"
                targets.append(((*root, i, field), channel, channel_problem(channel)))
            elif isinstance(channel, TeamsChannel):  # it carries no URL: only its connection to look up
                targets.append(((*root, i, "connection"), channel, None))
    for i, feed in enumerate(plan.feeds):
        targets.append((("feeds", i), feed, feed_problem(feed)))
    for path, target, problem in targets:
        if problem:
            yield path, problem
        elif target.connection and connections is not None:
            try:
                connections.allowed(target.connection, (connection_kind(target),), plan.client)
            except ConnectionRefused as refused:
                item = path[:-1] if isinstance(path[-1], str) and path[-1] in ("smtp", "url", "connection") else path
                yield (*item, "connection"), str(refused)
