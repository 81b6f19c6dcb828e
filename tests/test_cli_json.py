"""`--json` on every `bpo` command that prints something a person reads: one JSON document on
standard output, nothing else there, stable keys and ISO dates. The commands run as `bpo` runs
them (its parser, its checks, the command's function) against this test's own time-skipping
server."""

from __future__ import annotations

import importlib
import json
from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bpo.commands.arguments import check_arguments
from infra.audit import write_entries
from infra.db import make_engine
from infra.settings import Settings
from models.deliveries import AuditEntry
from starter import build_parser, parse_args
from tests.cli_sweep import subcommands
from tests.conftest import REFERENCE_PLAN

DANA, LI, RAJ = "dana@acme.example", "li@acme.example", "raj@northstar.example"

NO_JSON = {
    "server": "runs until stopped",
    "worker": "runs until stopped",
    "up": "runs until stopped",
    "web": "runs until stopped",
    "codec-server": "runs until stopped",
    "report": "an HTML document, written to --out or standard output",
    "qbr": "an HTML document, written to --out or standard output",
    "calendar": "an iCalendar document, written to --out or standard output",
    "schema": "prints a JSON Schema already",
    "completion": "prints a shell script",
}
"""The commands without ``--json``, and why: none prints lines a script would want to parse."""


def test_every_command_that_prints_for_people_takes_json():
    lacking = [name for name, p in subcommands().items() if "--json" not in p._option_string_actions]
    assert sorted(lacking) == sorted(NO_JSON)


@pytest.fixture
def bpo(env, monkeypatch, capsys, settings: Settings):
    """``await bpo(ARGS...)``: the command's standard output, after `bpo`'s own parser and checks,
    run against this test's time-skipping server."""
    import bpo.commands.common as common
    import bpo.commands.deciding as deciding
    import bpo.commands.notices as notices
    import bpo.commands.operating as operating
    import bpo.commands.seeing as seeing
    import bpo.commands.sources as sources

    async def client_for(_settings: Settings) -> Any:
        return env.client

    for module in (common, deciding, notices, operating, seeing, sources):
        monkeypatch.setattr(module, "client_for", client_for)

    async def run(*argv: str) -> str:
        parser = build_parser()
        args = parse_args(parser, list(argv))
        check_arguments(parser, args)
        module, name = args.func.split(":")
        result = getattr(importlib.import_module(f"bpo.commands.{module}"), name)(args, settings)
        if isinstance(result, Coroutine):
            await result
        return capsys.readouterr().out

    return run


def one_document(out: str) -> Any:
    """The JSON document ``out`` is, and nothing besides."""
    return json.loads(out)  # raises on a line of text before or after it


async def test_decisions_print_the_status_after_them_as_json(bpo, worker, settings: Settings):
    started = one_document(await bpo("start", str(REFERENCE_PLAN), "--id", "t-json", "--json"))
    assert started == {"id": "t-json"}

    status = one_document(await bpo("roster", "t-json", "--add", "sam@acme.example", "--name", "Sam Ode",
                                    "--role", "sme", "--by", LI, "--json"))  # fmt: skip
    assert {"id", "state", "phase", "health", "gates", "escalations"} <= set(status)
    assert status["id"] == "t-json" and status["phase"] == "planning"

    status = one_document(await bpo("raid", "t-json", "add", "--kind", "risk", "--title", "Vendor late",
                                    "--owner", RAJ, "--due", "2027-02-01", "--by", LI, "--json"))  # fmt: skip
    item = status["raid"][0]
    assert item["id"] == "R-1" and item["due"] == "2027-02-01"
    datetime.fromisoformat(item["opened_at"])  # an ISO date and time
    items = one_document(await bpo("raid", "t-json", "list", "--json"))
    assert [i["id"] for i in items] == ["R-1"]
    status = one_document(await bpo("raid", "t-json", "close", "R-1", "--note", "on time", "--by", LI, "--json"))
    assert status["raid"][0]["closed_by"] == LI

    status = one_document(await bpo("delegate", "t-json", "--from", DANA, "--to", LI, "--until", "2027-03-01",
                                    "--by", DANA, "--json"))  # fmt: skip
    assert status["id"] == "t-json"

    status = one_document(await bpo("kpi", "t-json", "--period", "2027-W09", "csat=91", "--by", LI, "--json"))
    assert status["id"] == "t-json"


async def test_amend_json_is_the_status_with_the_proposed_changes(bpo, worker, tmp_path: Path):
    await bpo("start", str(REFERENCE_PLAN), "--id", "t-amend")
    longer = tmp_path / "longer.yaml"
    longer.write_text(REFERENCE_PLAN.read_text().replace("due: 14d", "due: 21d", 1))
    status = one_document(await bpo("amend", "t-amend", str(longer), "--reason", "more time", "--by", LI, "--json"))
    amendment = status["amendments"][0]
    assert amendment["status"] == "proposed", amendment
    assert amendment["changes"] == ["phase planning: due 2w -> 3w"]


def test_keys_new_json_is_the_two_settings(capsys):
    import starter

    assert starter.main(["keys", "new", "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert set(keys) == {"BPO_SIGNING_KEY", "BPO_TRUSTED_KEYS"} and all(keys.values())


def test_export_json_says_what_it_wrote(tmp_path: Path, monkeypatch, capsys):
    import starter
    from infra.settings import get_settings

    at = datetime.fromisoformat("2027-01-05T09:30:00+00:00")
    with Session(make_engine(f"sqlite:///{tmp_path / 'audit.db'}")) as session:
        write_entries([AuditEntry(id="t1/run/1", transition_id="t1", kind="transition_started", phase="planning", at=at)], session=session)
    monkeypatch.setenv("BPO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    out = tmp_path / "decisions.csv"
    try:
        assert starter.main(["export", "t1", "--what", "decisions", "--out", str(out), "--json"]) == 0
    finally:
        get_settings.cache_clear()
    said = json.loads(capsys.readouterr().out)
    assert said == {"out": str(out), "what": "decisions", "format": "csv", "rows": 0} and out.is_file()



async def test_setup_json_names_what_it_added_and_what_was_there(bpo, monkeypatch):
    # The time-skipping server lists no search attributes, so the cluster's answer is stood in for.
    from bpo import server

    async def register(client: Any, namespace: str = "default") -> list[str]:
        return ["BpoDue"]

    monkeypatch.setattr(server, "register_search_attributes", register)
    setup = one_document(await bpo("setup", "--json"))
    assert setup["namespace"] == "default" and setup["added"] == ["BpoDue"]
    assert "BpoPhase" in setup["already_there"] and "BpoDue" not in setup["already_there"]
