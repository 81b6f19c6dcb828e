"""docker-compose.yml cannot run here (no Docker engine), so it is checked against the code."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from infra.settings import Settings
from starter import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("bpo-transition:")}


def test_every_variable_our_services_set_is_one_the_code_reads():
    known = {field.alias for field in Settings.model_fields.values()}
    assert set(OURS) == {"setup", "worker", "web", "codec"}
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
        module, name = parser.parse_args(service["command"]).func.split(":")
        assert callable(getattr(importlib.import_module(f"bpo.commands.{module}"), name))
    assert OURS["worker"]["command"] == ["worker"] and OURS["worker"]["deploy"]["replicas"] == 2
    assert OURS["web"]["command"][0] == "web" and OURS["web"]["deploy"]["replicas"] == 2


def test_workers_reach_the_server_and_the_audit_database_of_this_file():
    env = OURS["worker"]["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "@postgresql:5432/bpo_audit" in env["DATABASE_URL"] and env["DATABASE_URL"].startswith("postgresql+psycopg")
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    assert "CREATE DATABASE bpo_audit OWNER bpo" in init and "$BPO_DB_PASSWORD" in init
    assert "BPO_DB_PASSWORD" in SERVICES["postgresql"]["environment"]
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


def test_temporal_is_the_release_the_tests_run_set_up_by_admin_tools_and_checked_by_its_cli():
    import subprocess

    from infra.binaries import find_binary

    shown = subprocess.run([find_binary("temporal"), "--version"], capture_output=True, text=True).stdout
    server, ui = shown.split("Server ")[1].split(",")[0], shown.split("UI ")[1].rstrip(")\n")
    assert SERVICES["temporal"]["image"] == f"temporalio/server:{server}"
    assert (
        SERVICES["temporal-schema"]["image"]
        == SERVICES["temporal-namespace"]["image"]
        == f"temporalio/admin-tools:{server}"
    )
    assert SERVICES["temporal-ui"]["image"] == f"temporalio/ui:{ui}"
    assert "temporal operator cluster health" in (ROOT / "deploy" / "temporal-namespace.sh").read_text()
    assert SERVICES["setup"]["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"


def test_secrets_come_from_the_env_file_never_from_this_one_and_images_run_unprivileged():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("PASSWORD", "_PWD", "BPO_SIGNING_KEY", "BPO_CODEC_TOKEN", "BPO_OIDC_CLIENT_SECRET"):
        for line in text.splitlines():
            if secret in line and ":" in line and not line.strip().startswith("#"):
                value = line.split(":", 1)[1].strip()
                assert value.startswith("${") or "${" in value, f"{line.strip()}: a secret belongs in .env"
    example = (ROOT / ".env.example").read_text()
    for name in ("TEMPORAL_DB_PASSWORD", "BPO_DB_PASSWORD", "BPO_SIGNING_KEY", "BPO_CODEC_TOKEN"):
        assert f"{name}=" in example
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER bpo\n" in dockerfile
    for port in (p for s in SERVICES.values() for p in s.get("ports", [])):
        assert port.startswith("127.0.0.1:"), f"{port}: ports stay on loopback unless you mean otherwise"


def test_the_proxy_takes_an_evidence_upload_whole_and_keeps_sign_in_links_out_of_its_log():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    limit = int(conf.split("client_max_body_size ")[1].split("m;")[0])
    assert limit > Settings().evidence_max_mb, "an upload the web app accepts must pass the proxy"
    link = conf.split("location /login/link/ {")[1].split("}")[0]
    assert "access_log off;" in link and "proxy_pass" in link
