"""Secrets stay out of what the `bpo` command prints: the audit database's password when an id
is unknown, and any password or token in a URL that `bpo config` shows."""

from __future__ import annotations

import json
import os
import subprocess

from tests.stack import BPO, ROOT, free_port

PASSWORD, TOKEN = "Pa55/w0rd?4#242", "t0ken-4242"
"""A password as SQLAlchemy takes it, with "/", "?" and "#" unencoded."""


def bpo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`bpo` with no Temporal server to reach and the environment given (which wins over a `.env`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BPO_", "DATABASE_URL", "TEMPORAL_"))}
    full = {**base, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", **env}
    return subprocess.run([*BPO, *args], env=full, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_bpo_audit_and_notices_of_an_unknown_id_name_the_database_without_its_password(postgres_url):
    # The test server trusts loopback, so the password is accepted whatever it is: only printing counts.
    url = postgres_url.replace("://bpo@", f"://bpo:{PASSWORD}@")
    for command in ("audit", "notices"):
        done = bpo(command, "no-such-transition", DATABASE_URL=url)
        assert done.returncode != 0 and "the audit trail has nothing for 'no-such-transition'" in done.stderr, (
            done.stderr
        )
        assert "bpo:****@127.0.0.1" in done.stderr
        assert PASSWORD not in done.stdout + done.stderr


def test_bpo_config_masks_a_password_or_token_in_any_url_setting(tmp_path):
    shown = bpo(
        "config",
        "--json",
        BPO_DATA_DIR=str(tmp_path),
        BPO_EVIDENCE_S3_ENDPOINT=f"https://minio:{PASSWORD}@minio.internal:9000",
        BPO_SMTP_URL=f"smtps://bpo:{PASSWORD}@mail.example:465",
        DATABASE_URL=f"postgresql+psycopg://bpo:{PASSWORD}@db:5432/bpo_audit?sslpassword={TOKEN}",
    )
    assert shown.returncode == 0, shown.stderr
    assert PASSWORD not in shown.stdout and TOKEN not in shown.stdout
    settings = json.loads(shown.stdout)
    assert settings["BPO_EVIDENCE_S3_ENDPOINT"] == "https://minio:****@minio.internal:9000"
    assert settings["DATABASE_URL"] == "postgresql+psycopg://bpo:****@db:5432/bpo_audit?sslpassword=****"
