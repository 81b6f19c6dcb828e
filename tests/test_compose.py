"""docker-compose.yml cannot run here (no Docker engine), so it is checked against the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from bpo.settings import Settings
from starter import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PLAN_VARIABLES = {"BPO_WEBHOOK_URL", "BPO_SMTP_URL"}  # read by the plan's ${...}, not by Settings


def test_every_variable_a_service_sets_is_one_the_code_reads():
    known = {field.alias for field in Settings.model_fields.values()} | PLAN_VARIABLES
    for name, service in COMPOSE["services"].items():
        unknown = set(service.get("environment", {})) - known
        assert not unknown, f"{name} sets variables no code reads: {unknown}"


def test_every_service_command_is_a_real_bpo_subcommand():
    parser = build_parser()
    for service in COMPOSE["services"].values():
        args = parser.parse_args(service["command"])
        assert callable(args.func)


def test_worker_talks_to_the_server_service_on_its_port():
    server = COMPOSE["services"]["temporal"]
    port = server["command"][server["command"].index("--port") + 1]
    assert COMPOSE["services"]["worker"]["environment"]["TEMPORAL_ADDRESS"] == f"temporal:{port}"
    assert "--ip" in server["command"] and "0.0.0.0" in server["command"]


def test_dockerfile_entry_point_is_the_bpo_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["bpo"]' in dockerfile
    for folder in ("bpo", "models", "workflows", "activities"):
        assert f"COPY {folder} ./{folder}" in dockerfile
