"""The deployment's connections: the mail servers, webhook destinations, feed endpoints and feed
databases a plan may name, each with the clients allowed to use it and the names of the settings
that hold its secrets.

A plan is data, not power (trust.md, "The boundary"): whoever writes a plan chooses its roster and
wording, never where the deployment's mail, secrets or network reach. The operator lists the
connections in the YAML file ``BPO_CONNECTIONS``; the worker and the web app read the same file;
a plan says ``connection: NAME``. The two whole-value forms plans have always used,
``${BPO_WEBHOOK_URL}`` and ``${BPO_SMTP_URL}``, are the deployment's own connections, open to
every client.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import describe
from models.feeds import one_select

ConnectionName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
SettingName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,80}$")]
"""The name of a setting (an environment variable, or a line of ``.env``) that holds a secret."""
Kind = Literal["smtp", "webhook", "http", "sql"]
EVERY_CLIENT = "*"
DEPLOYMENT_WEBHOOK = "${BPO_WEBHOOK_URL}"
DEPLOYMENT_SMTP = "${BPO_SMTP_URL}"
USED_AS = {"smtp": "an email channel", "webhook": "a webhook channel", "http": "a json or csv feed", "sql": "a sql feed"}


class ConnectionRefused(Exception):
    """A plan may not use this connection (unknown, another kind, not allowed to its client)."""


class Connection(BaseModel):
    """One connection the deployment offers to plans.

    - ``smtp``: ``url_from`` names the setting with ``smtps://user:password@host``.
    - ``webhook``: ``url`` (no secret in it) or ``url_from``.
    - ``http`` (a JSON or CSV feed): ``url`` or ``url_from``, which may hold ``{period}``,
      ``{start}`` and ``{end}``; ``token_from`` names the setting sent as a bearer token.
    - ``sql`` (a SQL feed): ``database_from`` names the setting with the SQLAlchemy URL;
      ``query`` is one SELECT with ``:period``, ``:start``, ``:end`` and ``:kpi`` bound.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ConnectionName
    kind: Kind
    clients: list[str] = Field(min_length=1)
    """The plans' ``client:`` values allowed to use it (compared without case); ``*``: every client."""
    url: str | None = Field(default=None, max_length=500)
    url_from: SettingName | None = None
    token_from: SettingName | None = None
    database_from: SettingName | None = None
    query: str | None = Field(default=None, min_length=1, max_length=4000)

    @field_validator("url")
    @classmethod
    def _plain_url(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("url is https://host/...")
            if "@" in parts.netloc:
                raise ValueError("url may not carry a user or password; put the URL in a setting and name it in url_from")
        return url

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str | None) -> str | None:
        return one_select(query, "query")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Connection:
        needs = {
            "smtp": ({"url_from"}, set()),
            "webhook": (set(), {"url", "url_from"}),
            "http": (set(), {"url", "url_from", "token_from"}),
            "sql": ({"database_from", "query"}, set()),
        }[self.kind]
        required, optional = needs
        given = {f for f in ("url", "url_from", "token_from", "database_from", "query") if getattr(self, f)}
        if missing := sorted(required - given):
            raise ValueError(f"a {self.kind} connection needs {', '.join(missing)}")
        if extra := sorted(given - required - optional):
            raise ValueError(f"a {self.kind} connection has no {', '.join(extra)}")
        if self.kind in ("webhook", "http") and bool(self.url) == bool(self.url_from):
            raise ValueError(f"a {self.kind} connection has url or url_from, one of them")
        return self

    @property
    def secrets(self) -> list[str]:
        """The settings this connection reads."""
        return [s for s in (self.url_from, self.token_from, self.database_from) if s]

    def allows(self, client: str) -> bool:
        """Whether a plan for ``client`` may use this connection."""
        wanted = client.strip().casefold()
        return any(c == EVERY_CLIENT or c.strip().casefold() == wanted for c in self.clients)


class Connections(BaseModel):
    """The whole ``BPO_CONNECTIONS`` file: a list of connections under ``connections:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: list[Connection] = []

    @model_validator(mode="after")
    def _unique(self) -> Connections:
        names = [c.name for c in self.connections]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"connection {', '.join(twice)} appears twice")
        return self

    def allowed(self, name: str, kinds: tuple[Kind, ...], client: str | None) -> Connection:
        """The connection ``name``, if it is of one of ``kinds`` and open to ``client``; else
        `ConnectionRefused` saying why, in words a plan's author can act on."""
        found = next((c for c in self.connections if c.name == name), None)
        if found is None:  # the other names are not listed: they are other clients' business
            raise ConnectionRefused(f"the deployment has no connection '{name}' in BPO_CONNECTIONS; ask its operator")
        if found.kind not in kinds:
            raise ConnectionRefused(f"connection '{name}' is a {found.kind} connection; it cannot serve here")
        if client is None or not found.allows(client):
            raise ConnectionRefused(
                f"connection '{name}' is not open to client '{client or '?'}'; the operator lists the clients "
                "allowed to use it in BPO_CONNECTIONS"
            )
        return found

    def secrets(self, values: Mapping[str, str]) -> dict[str, str]:
        """The settings the connections read, from ``values`` (the environment and ``.env``)."""
        names = {s for c in self.connections for s in c.secrets}
        return {name: values[name] for name in sorted(names) if values.get(name)}


class ConnectionsError(Exception):
    """``BPO_CONNECTIONS`` cannot be read, or says something wrong; the message says what and where."""


def load_connections(path: str | Path | None) -> Connections:
    """The connections in the file at ``path`` (none when no path is given)."""
    if not path:
        return Connections()
    import yaml  # here, not above: a command whose deployment names no connections never reads YAML

    from models.yaml_nesting import TOO_DEEP, too_deep

    try:
        text = Path(path).read_text(encoding="utf-8")
        if (deep := too_deep(text)) is not None:
            raise ConnectionsError(f"BPO_CONNECTIONS: {path} line {deep} is {TOO_DEEP}")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConnectionsError(f"BPO_CONNECTIONS: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # saved in a legacy encoding: say where, as for bad YAML
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConnectionsError(f"BPO_CONNECTIONS: {path} line {line} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConnectionsError(f"BPO_CONNECTIONS: {path}{where} is not valid YAML") from None
    try:
        return Connections.model_validate(data or {})
    except ValidationError as exc:
        lines = [f"BPO_CONNECTIONS: {path}: {describe([error], show_input=False)}" for error in exc.errors()]
        raise ConnectionsError("\n".join(lines)) from None
