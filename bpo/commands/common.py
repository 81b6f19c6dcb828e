"""What every command shares: exit codes, turning bad input into a sentence, the client."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from infra.settings import Settings
from models.connections import ConnectionsError
from models.errors import Path_, describe, render_path

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from temporalio.client import Client

    from models.connections import Connections
    from models.plan import Plan
    from models.status import TransitionStatus

REFUSED, FAILED = 2, 1
UNCHECKED = 3
"""`bpo audit --verify`: the chain holds, but the head the transition recorded in Temporal could
not be read (a server away, a transition past retention), so a rewrite cannot be ruled out."""
Model = TypeVar("Model", bound=BaseModel)


class Exit(Exception):
    """Stop with ``code`` after printing ``message`` to stderr."""

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def with_hint(message: str, kind: str, transition_id: str = "ID") -> str:
    """A refusal's message, with the command line's hint for its kind (`RefusalKind.hint`) where
    there is one; ``{id}`` in a hint is the transition."""
    # Loaded here, on the way out: the rules' package loads the whole state machine, and every
    # `bpo` command imports this module.
    from workflows.rules.refusals import RefusalKind

    hint = RefusalKind.of(kind).hint
    return f"{message}\nhint: {hint.format(id=transition_id)}" if hint else message


def option(path: Path_) -> str:
    """A field's place as the command line names it: ``request_id`` is ``--request-id``."""
    return f"--{render_path(path).replace('_', '-')}"


def model_input(cls: type[Model], **fields: Any) -> Model:
    """Build an input model, turning a validation error into a message naming the option."""
    try:
        return cls(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise Exit(describe(exc, where=option)) from None


def date_option(text: str | None, name: str, now: datetime | None = None, ago: bool = False) -> date | None:
    """The day a person typed for ``--NAME``: a date (2027-02-01), a date and time (its day), or a
    duration from now (30d, 2w, P30D: the day it ends on, on this machine's calendar; with ``ago``,
    the day that long before now, for options that look back); exit 2 in our words for anything
    else. None stays None (not given)."""
    from models.durations import parse_duration

    if text is None:
        return None
    value = text.strip()
    for read in (date.fromisoformat, lambda v: datetime.fromisoformat(v).date()):
        try:
            return read(value)
        except ValueError:
            pass
    try:
        span = parse_duration(value)
    except ValueError:
        raise Exit(
            f"--{name}: '{value[:40]}' is not a date; write a date (2027-02-01), a date and time "
            f"(2027-02-01T17:00) or a duration {'ago' if ago else 'from now'} (30d, 2w)"
        ) from None
    now = now or datetime.now().astimezone()
    return (now - span if ago else now + span).date()


def connections_of(settings: Settings) -> Connections:
    """The deployment's connections (``BPO_CONNECTIONS``), or exit 2 saying what is wrong with the file."""
    from infra.settings import deployment_connections

    try:
        return deployment_connections(settings)
    except ConnectionsError as exc:
        raise Exit(str(exc)) from None


def plan_from(path: str, settings: Settings, kept: Collection[str] = ()) -> Plan:
    """The plan in ``path``, checked against the deployment's connections, its warnings printed,
    or every problem with its place; ``kept``: reserved gate keys it may keep (`load_plan`)."""
    from models.plan_loader import PlanError, load_plan

    try:
        loaded = load_plan(path, connections=connections_of(settings), kept=kept)
    except PlanError as exc:
        raise Exit(f"{len(exc.problems)} problem(s) in the plan:\n{exc}") from None
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return loaded.plan


_WHY = (
    (("connection refused",), "nothing answers there"),
    (("dns error", "lookup address", "name or service not known"), "that host name does not resolve"),
    (("timed out", "deadline", "timeout"), "no answer in time"),
    (("invalid target", "invalid uri", "invalid port", "invalid authority"), "that is not an address (host:port)"),
    # Before TLS: a refusal of the credentials often names the certificate it wanted.
    (
        ("unauthenticated", "permission denied", "api key"),
        "it refused the credentials (TEMPORAL_API_KEY, the client certificate)",
    ),
    (  # rustls reading a plain server's answer as a TLS record
        ("invalidcontenttype", "invalidmessage", "corrupt message"),
        "it does not speak TLS, which TEMPORAL_API_KEY or a TEMPORAL_TLS_* setting turns on",
    ),
    (
        ("certificate", "tls", "handshake", "ssl"),
        "the TLS handshake failed (TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY)",
    ),
    (("get_system_info", "grpc-status header missing"), "what answers there is not a Temporal server"),
    (("namespace",), "the namespace TEMPORAL_NAMESPACE names is not there"),
)
"""What a connection error means, by words the SDK's (Rust) message holds, in ours."""


def unreachable(settings: Settings, error: BaseException) -> str:
    """One plain sentence for a Temporal server that could not be reached: where, why as far as
    the error tells, and what to check; never the SDK's ``tonic::transport::Error(...)``."""
    text = str(error).lower()
    why = next((said for words, said in _WHY if any(w in text for w in words)), "the connection failed")
    return (
        f"cannot reach Temporal at {settings.temporal_address} (namespace {settings.temporal_namespace}): {why}; "
        "is it running? Start it with 'make run' or 'bpo up' (or 'bpo server'), or set TEMPORAL_ADDRESS "
        "to where it runs"
    )


async def client_for(settings: Settings) -> Client:
    """A connected client, or exit 1 with what to do about it."""
    from infra.client import connect

    try:
        return await connect(settings)
    except Exception as exc:  # any failure to connect is the same to a person: no server
        raise Exit(unreachable(settings, exc), FAILED) from None


def audit_engine(settings: Settings, code: int = FAILED) -> Engine:
    """The audit database to read, or exit ``code`` saying where it was looked for: a command that
    reads the trail never creates one (a SQLite file in whatever folder it runs, say)."""
    from infra.db import make_engine
    from infra.masking import make_url_safe

    url = settings.audit_url
    setting = "DATABASE_URL" if settings.database_url else "BPO_DATA_DIR (or DATABASE_URL)"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise Exit(
            f"there is no audit database at {url.removeprefix('sqlite:///')}; set {setting} to the one "
            "the worker writes (run this where the worker runs, or see 'bpo config')",
            code,
        )
    try:
        return make_engine(url)
    except Exception as exc:  # a server away, a wrong password: the same to the reader
        raise Exit(
            f"cannot open the audit database at {make_url_safe(url)} ({type(exc).__name__}); check {setting}", code
        ) from None


def print_status(status: TransitionStatus, as_json: bool) -> None:
    """A transition's status as text a person reads, or as JSON."""
    from bpo.render import status_text

    if as_json:
        print(json.dumps(status.model_dump(mode="json"), indent=2))
    else:
        print(status_text(status, datetime.now(UTC)))


def out_file(out: str, settings: Settings) -> Path:
    """The file ``--out`` names, or exit 2 if it is the engine's own data, which the command
    would write over: the audit database wherever it is, the dev server's, the audit mark key,
    logs and evidence, or any other SQLite database. (`check_arguments` has refused a folder.)"""
    path = Path(out)
    target = path.resolve()
    if target in _own_files(settings) or any(target.is_relative_to(f) for f in _own_folders(settings)):
        raise Exit(f"--out: {out} is the engine's own data, which this would write over; name another file", REFUSED)
    try:
        with target.open("rb") as existing:
            database = existing.read(16) == b"SQLite format 3\0"
    except OSError:  # nothing there yet, or nothing this process may read: writing will say
        database = False
    if database:
        raise Exit(f"--out: {out} is a database, which this would write over; name another file", REFUSED)
    return path


def _own_files(settings: Settings) -> set[Path]:
    """The files the engine keeps: the audit database when it is SQLite (wherever its URL puts it),
    the dev server's database, each with its journals, and the audit mark key."""
    from sqlalchemy.engine import make_url

    data = settings.data_dir.resolve()
    databases = [data / "temporal.db"]
    url = make_url(settings.audit_url)
    if url.drivername.startswith("sqlite") and url.database and url.database != ":memory:":
        databases.append(Path(url.database).resolve())
    journals = {db.with_name(db.name + tail) for db in databases for tail in ("", "-wal", "-shm", "-journal")}
    return journals | {data / "audit-mark.key"}


def _own_folders(settings: Settings) -> list[Path]:
    """The folders the engine fills: its logs, and the evidence it keeps on disk."""
    folders = [settings.data_dir.resolve() / "logs"]
    if "://" not in settings.evidence_location:  # an S3 bucket holds no file of this machine
        folders.append(Path(settings.evidence_location).resolve())
    return folders


def write_out(text: str, out: str | None, what: str, settings: Settings) -> None:
    """Write ``text`` to the file ``out`` (as `out_file` allows), or to standard output when there is none."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out_file(out, settings).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Exit(f"cannot write {out}: {exc.strerror}") from None
    print(f"{what} written to {out}")
