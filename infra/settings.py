"""One settings object, read from the environment (or a `.env` file) by every process."""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.constants import TASK_QUEUE
from models.durations import Duration

if TYPE_CHECKING:
    from infra.addresses import Policy
    from models.connections import Connections
    from models.signing import Signer


_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical"}
"""Python's logging's other names for two levels: ``BPO_LOG_LEVEL`` took them before it was checked."""


class FlushTiming(TypedDict):
    """How a transition started from here holds its flushes (`Settings.flush_timing`)."""

    flush_after: timedelta
    audit_linger: timedelta


class Settings(BaseSettings):
    """Where the engine connects and keeps its data; names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False, env_ignore_empty=True)

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_tls_cert: Path | None = Field(default=None, alias="TEMPORAL_TLS_CERT")
    temporal_tls_key: Path | None = Field(default=None, alias="TEMPORAL_TLS_KEY")
    temporal_tls_ca: Path | None = Field(default=None, alias="TEMPORAL_TLS_CA")
    """PEM file of the CA(s) that signed the server's certificate (a private CA); turns TLS on.
    Unset: the system's trusted roots."""
    temporal_tls_server_name: str | None = Field(
        default=None, alias="TEMPORAL_TLS_SERVER_NAME", max_length=253, pattern=r"^[A-Za-z0-9.*-]+$"
    )
    """The name the server's certificate must carry when it differs from ``TEMPORAL_ADDRESS``'s
    host (an address by IP, a proxy); turns TLS on."""

    @field_validator("temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca")
    @classmethod
    def _tls_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"there is no file at {path}")
        return path

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError(
                "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both (a client certificate and its key) or neither"
            )
        return self

    temporal_api_key: str | None = Field(default=None, alias="TEMPORAL_API_KEY", repr=False)
    task_queue: str = Field(default=TASK_QUEUE, alias="BPO_TASK_QUEUE")
    data_dir: Path = Field(default=Path(".data"), alias="BPO_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    encryption_key: str | None = Field(default=None, alias="BPO_ENCRYPTION_KEY", repr=False)
    encryption_old_keys: str = Field(default="", alias="BPO_ENCRYPTION_OLD_KEYS", repr=False)
    encryption_required: bool = Field(default=False, alias="BPO_ENCRYPTION_REQUIRED")
    """Refuse any payload that arrives unencrypted (a command, a query, a start) from a client
    without the key; needs ``BPO_ENCRYPTION_KEY``."""

    @field_validator("encryption_key", "encryption_old_keys")
    @classmethod
    def _encryption_keys(cls, text: str | None, info: ValidationInfo) -> str | None:
        # Checked with the other settings: a wrong key found only when connecting was told as a
        # server that could not be reached ("the TLS handshake failed": its hint names openssl).
        current = info.field_name == "encryption_key"
        for key in filter(str.strip, [text or ""] if current else (text or "").split(",")):
            from infra.codec import parse_key  # loaded only when a key is set

            parse_key(key, "BPO_ENCRYPTION_KEY" if current else "a key of BPO_ENCRYPTION_OLD_KEYS")
        return text

    @model_validator(mode="after")
    def _required_key(self) -> Settings:
        if self.encryption_required and not self.encryption_key:
            raise ValueError("BPO_ENCRYPTION_REQUIRED is set but BPO_ENCRYPTION_KEY is not: set the key, or unset it")
        return self

    server_sync: Literal["full", "normal", "sqlite-default"] = Field(default="full", alias="BPO_SERVER_SYNC")
    """How the embedded server (``bpo server``) commits to its SQLite file: ``full`` (WAL, a sync
    per commit: nothing lost when a process is killed or the power cut), ``normal`` (WAL, no sync
    per commit: nothing lost when a process is killed; the last commits may be on a power cut), or
    SQLite's own defaults (a rollback journal and a sync per commit, about half as fast)."""
    flush_after_ms: int = Field(default=500, ge=0, le=5000, alias="BPO_FLUSH_AFTER_MS")
    """Given to each transition started from here: how long a decision's audit entries and
    notices wait for others to join them, so that the decision is answered first (one workflow
    task per decision) and is in the audit table within a second. 0: answered only once
    written, a workflow task more per decision."""
    audit_linger_ms: int = Field(default=5000, ge=0, le=60_000, alias="BPO_AUDIT_LINGER_MS")
    """Given to each transition started from here: how long audit entries with no notice among
    them (a reading, a tick) may wait for others before they are written, so that a transition's
    burst of decisions makes one flush, not one each. A notice, a reader of the trail (`bpo
    audit`, the web app's pages) and the run's end send them at once."""

    workflow_cache: int = Field(default=2000, ge=1, le=100_000, alias="BPO_WORKFLOW_CACHE")
    """Transitions a worker keeps in memory; one not kept is replayed from its (short) history when
    it next has work. About 0.2 MB each for a transition of the compact plan (2,000: some 400 MB),
    about 0.5 MB for a program or a workstream (2,000: about 1 GB; docs/benchmarks.md)."""
    worker_gc_threshold: int = Field(default=0, ge=0, le=10_000_000, alias="BPO_WORKER_GC_THRESHOLD")
    """The worker's first garbage-collection threshold (Python's default is 700); when set, at start
    the worker also moves what it has loaded out of the collector's sight (``gc.freeze``). 0, the
    default, leaves Python's own settings: since the audit is written in a process of its own,
    fewer collections no longer shorten the slowest answers, and a worker holding thousands of
    transitions kept some 35 KB more of each (docs/benchmarks.md)."""
    worker_switch_interval_us: int = Field(default=1000, ge=100, le=100_000, alias="BPO_WORKER_SWITCH_INTERVAL_US")
    """How long, in microseconds, a thread of the worker keeps the GIL while another waits for it
    (``sys.setswitchinterval``; Python's own is 5,000). Threads run the SDK's activations and,
    with ``BPO_AUDIT_WRITER_PROCESSES=0``, the flushes' audit writes; the loop that answers the
    decisions waits up to this long at each hand-over while another thread runs, and a decision
    makes several (docs/benchmarks.md, "The decision tail traced")."""
    audit_writer_processes: int = Field(default=1, ge=0, le=16, alias="BPO_AUDIT_WRITER_PROCESSES")
    """Processes of its own the outbox flush writes the audit trail in, beside the worker
    (`activities.audit_writer`), so that its CPU never holds the GIL the decisions wait for;
    0 writes in the worker's threads, as before."""
    metrics_port: int | None = Field(default=None, alias="BPO_METRICS_PORT")
    trace_file: Path | None = Field(default=None, alias="BPO_TRACE_FILE")
    """The bench's tracing (`infra/tracing.py`, needs the test extra's ``opentelemetry-sdk``): the
    worker's spans, one JSON object a line, appended here. Unset (always, in production): no
    interceptor, nothing paid."""
    health_port: int | None = Field(default=None, alias="BPO_HEALTH_PORT")
    log_format: Literal["auto", "json", "console"] = Field(default="auto", alias="BPO_LOG_FORMAT")
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(default="info", alias="BPO_LOG_LEVEL")
    signing_key: str | None = Field(default=None, alias="BPO_SIGNING_KEY", repr=False)
    """Private Ed25519 key (base64) that signs the commands this process sends."""
    trusted_keys_text: str = Field(default="", alias="BPO_TRUSTED_KEYS")
    """Comma-separated public keys a new transition trusts; default: the signing key's."""
    allow_unsigned: bool = Field(default=False, alias="BPO_ALLOW_UNSIGNED")
    """Start transitions that trust no key. **Only for a trial**: such a transition takes any
    command, unsigned, from anyone who reaches Temporal. `bpo up` and the test stacks set it; a
    deployment sets ``BPO_SIGNING_KEY`` (`bpo keys new`) instead."""
    codec_token: str | None = Field(default=None, alias="BPO_CODEC_TOKEN", repr=False)
    """Bearer token every call to `bpo codec-server` must carry."""
    webhook_url: str | None = Field(default=None, alias="BPO_WEBHOOK_URL", repr=False)
    """What a plan's ``${BPO_WEBHOOK_URL}`` means on this worker; may carry a token."""
    smtp_url: str | None = Field(default=None, alias="BPO_SMTP_URL", repr=False)
    """What a plan's ``${BPO_SMTP_URL}`` means on this worker: ``smtps://user:password@host``."""
    webhook_secret: str | None = Field(default=None, alias="BPO_WEBHOOK_SECRET", repr=False)
    audit_mark_secret: str | None = Field(default=None, alias="BPO_AUDIT_MARK_KEY", repr=False)
    """The workers' shared secret that keys each flush's mark on its audit rows (docs/trust.md):
    whoever writes the audit table cannot make a row pass for a flush's own. Every worker of a
    deployment must have the same one; without it, one is kept in the data folder."""
    """``whsec_…``: webhooks are signed with it (Standard Webhooks)."""
    slack_signing_secret: str | None = Field(default=None, alias="BPO_SLACK_SIGNING_SECRET", repr=False)
    """The Slack app's signing secret: the web app takes a button press only with Slack's
    signature over it (``POST /integrations/slack/actions``)."""
    slack_bot_token: str | None = Field(default=None, alias="BPO_SLACK_BOT_TOKEN", repr=False)
    """The Slack app's bot token (``xoxb-…``): the worker posts a plan's ``kind: slack`` channels
    with it and the web app updates the messages and asks Slack a linking user's address
    (``users.info``, scope ``users:read.email``); unset, those channels are skipped and no Slack
    account can be linked."""
    slack_api_url: str = Field(default="https://slack.com/api", alias="BPO_SLACK_API_URL", pattern=r"^https?://\S+$")
    """Where Slack's Web API answers (tests point it at a receiver on this machine)."""
    teams_webhook_url: str | None = Field(default=None, alias="BPO_TEAMS_WEBHOOK_URL", repr=False)
    """The Teams Workflows or incoming-webhook URL a plan's ``kind: teams`` channel posts to (it
    carries the webhook's key); unset, those channels are skipped unless they name a connection."""
    connections_file: Path | None = Field(default=None, alias="BPO_CONNECTIONS")
    """A YAML file of the deployment's connections that plans may name (mail servers, webhooks,
    feed endpoints and databases, each open to the clients it lists); see docs/security.md."""
    allowed_hosts_text: str = Field(default="", alias="BPO_ALLOWED_HOSTS")
    """Comma-separated hosts notices may go to and feeds and evidence be fetched from
    (``.example.com`` for a domain); empty: any."""
    fetch_allow_text: str = Field(default="", alias="BPO_FETCH_ALLOW")
    """Comma-separated hosts, ``host:port`` or CIDRs (``10.1.0.0/16``) that requests made for a plan
    (feeds, evidence, webhooks) may reach although they are loopback, private or link-local;
    empty: only public addresses. ``bpo up`` allows loopback."""
    web_url: str | None = Field(default=None, alias="BPO_WEB_URL", pattern=r"^https?://[^\s/]+(/\S*)?$")
    """Where people reach the web app (``https://bpo.example.com``): links in mails point there."""
    oidc_issuer: str | None = Field(default=None, alias="BPO_OIDC_ISSUER")
    oidc_client_id: str | None = Field(default=None, alias="BPO_OIDC_CLIENT_ID")
    oidc_client_secret: str | None = Field(default=None, alias="BPO_OIDC_CLIENT_SECRET", repr=False)
    program_office_text: str = Field(default="", alias="BPO_PROGRAM_OFFICE", max_length=10_000)
    """Comma-separated addresses and group values (of the OIDC claim ``BPO_OIDC_GROUPS_CLAIM``) of
    the program office: the only people who may start a transition from the web app or its API."""
    oidc_groups_claim: str = Field(
        default="groups", alias="BPO_OIDC_GROUPS_CLAIM", min_length=1, max_length=100, pattern=r"^[\w.:/-]+$"
    )
    """The claim of the identity provider's tokens that lists a person's groups."""
    oidc_email_claim: str | None = Field(
        default=None, alias="BPO_OIDC_EMAIL_CLAIM", min_length=1, max_length=100, pattern=r"^[\w.:/-]+$"
    )
    """A claim the identity provider guarantees to hold the person's verified address, used as it
    is; unset: ``email``, accepted only with ``email_verified`` true (a missing ``email_verified``
    is not verified). For a provider that sends no ``email_verified`` (Entra ID), name the claim
    your tenant fills from the directory's own record of the person, the user object found by
    ``oid`` (see docs/deploy.md); never a claim the person can edit."""
    codec_ui_client: str | None = Field(default=None, alias="BPO_CODEC_UI_CLIENT", max_length=200)
    """The Temporal Web UI's own client id at the identity provider: the web app's codec
    (``/codec/decode``) takes access tokens issued to it, which the UI passes, from people of the
    program office. Unset: the web app serves no codec."""
    codec_ui_origins_text: str = Field(default="", alias="BPO_CODEC_UI_ORIGINS", max_length=2_000)
    """Comma-separated origins of the Temporal Web UI (``https://temporal.example.com``) that
    may call the codec from a browser (CORS)."""
    api_token_ttl: Duration = Field(default=timedelta(days=90), alias="BPO_API_TOKEN_TTL")
    """How long a personal API token made at /me/tokens works."""
    trusted_proxies_text: str = Field(default="", alias="BPO_TRUSTED_PROXIES", max_length=10_000)
    """Comma-separated addresses or CIDRs of the reverse proxies in front of the web app (the
    compose nginx): only a request from one of them has its ``X-Forwarded-For`` believed, for the
    sign-in rate limit and the logs. Empty: none, the connecting address is the client."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, level: object) -> object:
        if not isinstance(level, str):
            return level
        level = level.strip().lower()  # INFO, as logging writes it
        return _LEVEL_ALIASES.get(level, level)  # warn and fatal, which logging took (and Temporal's server)

    @field_validator("trusted_proxies_text")
    @classmethod
    def _trusted_proxies(cls, text: str) -> str:
        for entry in filter(None, (e.strip() for e in text.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"BPO_TRUSTED_PROXIES: '{entry}' is not an address or a CIDR") from None
        return text

    @property
    def trusted_proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``BPO_TRUSTED_PROXIES`` as networks."""
        return [ipaddress.ip_network(e.strip(), strict=False) for e in self.trusted_proxies_text.split(",") if e.strip()]

    delivery_give_up: Duration = Field(default=timedelta(hours=24), alias="BPO_DELIVERY_GIVE_UP")
    """How long a notification is tried again (with growing pauses) before it is kept as failed."""
    link_ttl: Duration = Field(default=timedelta(hours=24), alias="BPO_LINK_TTL")
    """How long an emailed sign-in link works (it works once)."""
    session_ttl: Duration = Field(default=timedelta(hours=12), alias="BPO_SESSION_TTL")
    web_dev: bool = Field(default=False, alias="BPO_WEB_DEV")
    """The embedded default: links listed on ``/dev/outbox`` instead of mailed; anyone can sign in."""
    mail_from: str = Field(default="bpo-transition@localhost", alias="BPO_MAIL_FROM", pattern=r"^[^@\s]+@[^@\s]+$")
    """The sender of the web app's sign-in mails."""
    evidence_store: str | None = Field(default=None, alias="BPO_EVIDENCE_STORE")
    """Where pinned evidence is kept: a folder, or ``s3://bucket/prefix``; default
    ``BPO_DATA_DIR/evidence``."""
    evidence_s3_endpoint: str | None = Field(default=None, alias="BPO_EVIDENCE_S3_ENDPOINT")
    """The S3-compatible service to use instead of AWS (MinIO, Ceph, ...)."""
    evidence_max_mb: int = Field(default=25, ge=1, le=1024, alias="BPO_EVIDENCE_MAX_MB")
    """The largest evidence file accepted, fetched or uploaded."""
    operator: str | None = Field(default=None, alias="BPO_OPERATOR", max_length=254, pattern=r"^[^\x00-\x1f]+$")
    """Who sends commands from this shell, for the audit; default: the OS user."""

    @field_validator("signing_key")
    @classmethod
    def _signing_key(cls, key: str | None) -> str | None:
        if key:
            from models.signing import Signer  # loaded only when a key is set

            Signer(key)  # a ValueError that says what is wrong with it
        return key

    @field_validator("trusted_keys_text")
    @classmethod
    def _trusted(cls, text: str) -> str:
        for key in filter(None, (k.strip() for k in text.split(","))):
            from models.signing import public_key  # loaded only when a key is set

            public_key(key, canonical=True)
        return text

    @property
    def trusted_keys(self) -> list[str]:
        """The keys a transition started from here trusts: ``BPO_TRUSTED_KEYS``, else the public
        half of ``BPO_SIGNING_KEY``, else none (commands go unsigned)."""
        listed = [k.strip() for k in self.trusted_keys_text.split(",") if k.strip()]
        if listed:
            return listed
        return [self.signer.public_key] if self.signer else []

    @property
    def flush_timing(self) -> FlushTiming:
        """``BPO_FLUSH_AFTER_MS`` and ``BPO_AUDIT_LINGER_MS``, as `bpo.api.start_transition` takes
        them: a transition keeps what it was started with."""
        return FlushTiming(
            flush_after=timedelta(milliseconds=self.flush_after_ms),
            audit_linger=timedelta(milliseconds=self.audit_linger_ms),
        )

    @property
    def allowed_hosts(self) -> list[str]:
        """``BPO_ALLOWED_HOSTS`` as a list."""
        return [h.strip().lower() for h in self.allowed_hosts_text.split(",") if h.strip()]

    @field_validator("fetch_allow_text")
    @classmethod
    def _fetch_allow(cls, text: str) -> str:
        from infra.addresses import Policy

        try:
            Policy.parse(text)
        except ValueError as exc:
            raise ValueError(f"BPO_FETCH_ALLOW: {exc}") from None
        return text

    @property
    def fetch_policy(self) -> Policy:
        """Where requests made for a plan may go: ``BPO_FETCH_ALLOW`` and ``BPO_ALLOWED_HOSTS``."""
        from infra.addresses import Policy

        return Policy.parse(self.fetch_allow_text, self.allowed_hosts)

    @property
    def codec_ui_origins(self) -> frozenset[str]:
        """`codec_ui_origins_text`, as a set of origins."""
        return frozenset(v.strip().rstrip("/") for v in self.codec_ui_origins_text.split(",") if v.strip())

    @property
    def program_office(self) -> frozenset[str]:
        """``BPO_PROGRAM_OFFICE`` as a set: addresses and group values, as written."""
        return frozenset(v.strip() for v in self.program_office_text.split(",") if v.strip())

    @property
    def signer(self) -> Signer | None:
        """What signs this process's commands, if it holds a key."""
        from models.signing import Signer

        return Signer(self.signing_key) if self.signing_key else None

    @property
    def evidence_location(self) -> str:
        """``BPO_EVIDENCE_STORE``, else the data folder's ``evidence``."""
        return self.evidence_store or str((self.data_dir / "evidence").resolve())

    def audit_mark_key(self) -> bytes:
        """`audit_mark_secret`, or the key kept in ``BPO_DATA_DIR/audit-mark.key`` (made once,
        readable by this user only), so a worker started again marks as it did."""
        if self.audit_mark_secret:
            return self.audit_mark_secret.encode()
        path = self.data_dir / "audit-mark.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    @property
    def audit_url(self) -> str:
        """The audit database: ``DATABASE_URL``, else SQLite in the data folder."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'audit.db').resolve()}"


def deployment_connections(settings: Settings) -> Connections:
    """The connections in ``BPO_CONNECTIONS`` (none when it is not set); `ConnectionsError`
    saying what is wrong with the file."""
    from models.connections import load_connections

    return load_connections(settings.connections_file)


def connection_secrets(connections: Connections) -> dict[str, str]:
    """The values of the settings the connections name, from ``.env`` and the environment (the
    environment winning): read only by the worker, which uses them to deliver and to pull."""
    from dotenv import dotenv_values

    merged = {k: v for k, v in {**dotenv_values(".env"), **os.environ}.items() if v}
    return connections.secrets(merged)


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
