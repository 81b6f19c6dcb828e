"""docker-compose.yml cannot run here (no Docker engine), so it is checked against the code."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.settings import Settings
from starter import build_parser
from tests.compose_interpolation import InterpolationError, interpolate, interpolate_file, read_env_file

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
    assert f"http://web:{port}" in (ROOT / "deploy" / "nginx.conf.template").read_text()


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
    for name in ("TEMPORAL_DB_PASSWORD", "BPO_DB_PASSWORD", "BPO_SIGNING_KEY", "BPO_CODEC_TOKEN", "BPO_AUDIT_MARK_KEY"):
        assert f"{name}=" in example
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER bpo\n" in dockerfile
    for port in (p for s in SERVICES.values() for p in s.get("ports", [])):
        assert port.startswith("127.0.0.1:"), f"{port}: ports stay on loopback unless you mean otherwise"


def test_the_proxy_takes_an_evidence_upload_whole_and_keeps_sign_in_links_out_of_its_log():
    conf = (ROOT / "deploy" / "nginx.conf.template").read_text()
    link = conf.split("location /login/link/ {")[1].split("}")[0]
    assert "access_log off;" in link and "proxy_pass" in link


REQUIRED = {"TEMPORAL_DB_PASSWORD", "BPO_DB_PASSWORD", "BPO_AUDIT_MARK_KEY"}
"""What docs/deploy.md says to set in .env beyond what .env.example fills in."""


def _example_env() -> dict[str, str]:
    return read_env_file((ROOT / ".env.example").read_text())


def test_the_interpolation_follows_composes_rules():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${UNSET:-d} ${EMPTY-d} ${UNSET-d}", env) == "x d d  d"
    assert (
        interpolate("$SET $$SET $${SET} ${UNSET:-${SET}} ${SET:+on} ${EMPTY:+on} ${EMPTY+on}", env)
        == "x $SET ${SET} x on  on"
    )
    assert interpolate("${EMPTY?fine}", env) == ""
    for text in ("${EMPTY:?needed}", "${UNSET?needed}", "${UNSET:?needed}"):
        with pytest.raises(InterpolationError, match="needed"):
            interpolate(text, env)
    for bad in ("a $ b", "${}", "${SET", "${SET!x}"):
        with pytest.raises(InterpolationError, match="invalid template"):
            interpolate(bad, env)


def test_the_whole_file_every_profile_included_resolves_with_env_example_and_the_documented_values():
    env = _example_env() | {name: f"secret-{name.lower()}" for name in REQUIRED}
    resolved = interpolate_file(COMPOSE, env)
    services = resolved["services"]
    assert "codec" in services and services["codec"]["profiles"] == ["codec"]
    url = services["worker"]["environment"]["DATABASE_URL"]
    assert url == "postgresql+psycopg://bpo:secret-bpo_db_password@postgresql:5432/bpo_audit"
    assert services["web-proxy"]["environment"]["BPO_EVIDENCE_MAX_MB"] == "25"


def test_what_compose_requires_is_what_the_docs_say_to_set_and_nothing_else():
    env = _example_env()
    missing = set()
    for _ in REQUIRED | {"one more"}:  # each run names one; set it and look again
        try:
            interpolate_file(COMPOSE, env)
            break
        except InterpolationError as error:
            name = str(error).split("required variable ")[1].split(" ")[0]
            missing.add(name)
            env[name] = "set"
    assert missing == REQUIRED
    steps = (ROOT / "docs" / "deploy.md").read_text()
    for name in REQUIRED:
        assert name in steps, f"docs/deploy.md never says to set {name}"


def _rendered_proxy_config(max_mb: str) -> str:
    """deploy/nginx.conf.template as the nginx image renders it: the .envsh sourced, then each
    ${NAME} the environment defines filled in (nginx's own $variables left as they are)."""
    shown = subprocess.run(
        ["sh", "-c", ". deploy/nginx-body-limit.envsh; env"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "BPO_EVIDENCE_MAX_MB": max_mb},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    defined = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    rendered = (ROOT / "deploy" / "nginx.conf.template").read_text()
    for name, value in defined.items():
        rendered = rendered.replace("${" + name + "}", value)
    return rendered


def test_the_proxys_body_limit_follows_the_evidence_limit():
    proxy = SERVICES["web-proxy"]
    assert any(v.endswith(":/etc/nginx/templates/default.conf.template:ro") for v in proxy["volumes"])
    assert any(".envsh:/docker-entrypoint.d/" in v for v in proxy["volumes"])
    assert os.access(ROOT / "deploy" / "nginx-body-limit.envsh", os.X_OK), "the image sources only executable .envsh"
    assert proxy["environment"]["BPO_EVIDENCE_MAX_MB"] == OURS["web"]["environment"]["BPO_EVIDENCE_MAX_MB"]
    for max_mb in ("25", "80"):
        conf = _rendered_proxy_config(max_mb)
        assert "${" not in conf
        limit = int(conf.split("client_max_body_size ")[1].split("m;")[0])
        assert limit > int(max_mb), "an upload the web app accepts must pass the proxy"
    assert Settings().evidence_max_mb == 25


def test_the_rendered_proxy_config_is_one_nginx_accepts(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        pytest.skip("nginx is not installed (make test installs Debian's nginx-light)")
    (tmp_path / "default.conf").write_text(_rendered_proxy_config("25"))
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{ include {tmp_path}/default.conf; }}\n")
    checked = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_no_dev_only_dynamic_config_and_no_password_on_a_command_line():
    dynamic = yaml.safe_load((ROOT / "deploy" / "dynamicconfig.yaml").read_text())
    assert "system.forceSearchAttributesCacheRefreshOnRead" not in dynamic  # upstream: "dev setup only"
    for script in (ROOT / "deploy").glob("*.sh"):
        text = script.read_text()
        assert "--pw" not in text and "--password" not in text, f"{script.name}: a password on a command line"
    for name, service in SERVICES.items():
        words = " ".join(str(w) for w in [*service.get("command", []), *service.get("entrypoint", [])])
        assert "PASSWORD" not in words and "--pw" not in words, name
    schema = SERVICES["temporal-schema"]["environment"]
    assert schema["SQL_PASSWORD"].startswith("${TEMPORAL_DB_PASSWORD")  # temporal-sql-tool reads it


def test_the_audit_schema_is_migrated_once_under_a_lock():
    from infra import db

    # Workers and web apps migrate at start; on PostgreSQL one at a time (tests/test_migration_lock.py).
    assert "pg_advisory_xact_lock" in Path(db.__file__).read_text()
