"""The settings and URLs as a person is shown them (`bpo config`, command output, logs): secrets,
passwords and token-like query values masked."""

from __future__ import annotations

import re
from datetime import timedelta

from infra.settings import Settings, connection_secrets, deployment_connections
from models.connections import ConnectionsError
from models.durations import format_duration

SECRETS = (
    "TEMPORAL_API_KEY",
    "BPO_ENCRYPTION_KEY",
    "BPO_ENCRYPTION_OLD_KEYS",
    "BPO_SIGNING_KEY",
    "BPO_WEBHOOK_URL",
    "BPO_WEBHOOK_SECRET",
    "BPO_CODEC_TOKEN",
    "BPO_OIDC_CLIENT_SECRET",
)


def effective(settings: Settings) -> dict[str, str]:
    """Every setting by its variable name, as in force, with secrets and passwords masked."""
    shown: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        alias = field.alias or name.upper()
        if alias in SECRETS and value:
            shown[alias] = "****"
        elif alias == "BPO_SMTP_URL" and value:
            shown[alias] = make_url_safe(value)
        elif isinstance(value, timedelta):  # as a plan writes it (1d, 90s), not timedelta's 1 day, 0:00:00
            shown[alias] = format_duration(value)
        else:  # any other URL may carry a password or a token too (an S3 endpoint, the web URL)
            shown[alias] = "" if value is None else make_url_safe(str(value))
    url = make_url_safe(settings.audit_url)
    shown["DATABASE_URL"] = url + ("" if settings.database_url else "  (default)")
    shown["BPO_EVIDENCE_STORE"] = settings.evidence_location + ("" if settings.evidence_store else "  (default)")
    try:  # the settings a connection reads are secrets, whatever their names
        shown.update({name: "****" for name in connection_secrets(deployment_connections(settings))})
    except ConnectionsError as error:
        shown["BPO_CONNECTIONS"] += f"  (unreadable: {str(error).splitlines()[0]})"
    return shown


_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://[^:/?#@\s]*:", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?P<start>[?&;](?:[\w.-]*(?:password|passwd|pwd|secret|token|key|sig|signature|auth|credential)[\w.-]*)=)"
    r"[^&;#\s]*",
    re.IGNORECASE,
)


def make_url_safe(url: str) -> str:
    """``url`` with its password and the values of query parameters named like secrets
    (``token``, ``key``, ``password``, ``sig``...) replaced by ****; any other text unchanged."""
    shown = re.sub(r"\S+", lambda word: _without_password(word.group()), url)
    return _SECRET_PARAM.sub(lambda m: m["start"] + "****", shown)


def _without_password(word: str) -> str:
    # SQLAlchemy (and most URL readers) take the password to the last "@": "/", "?", "#" and "@"
    # may all stand unencoded in it, so everything from the user's ":" to that "@" goes.
    start = _USERINFO.match(word)
    at = word.rfind("@")
    return word if start is None or at < start.end() else word[: start.end()] + "****" + word[at:]
