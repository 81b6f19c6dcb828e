"""docker-compose.yml cannot run here (no Docker engine), so it is checked against the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from bpo.settings import Settings
from starter import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("bpo-transition:")}


def test_every_variable_our_services_set_is_one_the_code_reads():
    known = {field.alias for field in Settings.model_fields.values()}
    assert set(OURS) == {"setup", "worker", "web"}
    for name, service in OURS.items():
        unknown = set(service.get("environment", {})) - known
        assert not unknown, f"{name} sets variables no code reads: {unknown}"


def test_every_image_tag_is_pinned():
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_our_commands_are_real_bpo_subcommands_and_the_worker_runs_twice():
    parser = build_parser()
    for service in OURS.values():
        assert callable(parser.parse_args(service["command"]).func)
    assert OURS["worker"]["command"] == ["worker"] and OURS["worker"]["deploy"]["replicas"] == 2
    assert OURS["web"]["command"][0] == "web" and OURS["web"]["deploy"]["replicas"] == 2


def test_workers_reach_the_server_and_the_audit_database_of_this_file():
    env = OURS["worker"]["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "@postgresql:5432/bpo_audit" in env["DATABASE_URL"] and env["DATABASE_URL"].startswith("postgresql+psycopg")
    init = (ROOT / "deploy" / "postgres-init.sql").read_text()
    assert "CREATE DATABASE bpo_audit OWNER bpo" in init
    health = env["BPO_HEALTH_PORT"]
    assert f"127.0.0.1:{health}/healthz" in " ".join(OURS["worker"]["healthcheck"]["test"])


def test_long_running_services_have_health_checks_and_data_outlives_containers():
    for name in ("postgresql", "temporal", "worker", "web", "web-proxy"):
        assert "healthcheck" in SERVICES[name], name
    assert any("postgres-data:" in v for v in SERVICES["postgresql"]["volumes"])


def test_dockerfile_entry_point_is_the_bpo_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["bpo"]' in dockerfile
    for folder in ("bpo", "models", "workflows", "activities"):
        assert f"COPY {folder} ./{folder}" in dockerfile


def test_the_web_replicas_share_one_database_and_the_proxy_reaches_them():
    web = OURS["web"]
    assert web["environment"]["DATABASE_URL"] == OURS["worker"]["environment"]["DATABASE_URL"]
    port = web["command"][web["command"].index("--port") + 1]
    assert f"127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    assert f"http://web:{port}" in (ROOT / "deploy" / "nginx.conf").read_text()
