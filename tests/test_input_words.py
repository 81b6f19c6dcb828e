"""Bad input is refused in our words wherever a person gives it: the `bpo` commands, a plan or
readings file, the settings, and the web app's JSON API. Pydantic's own phrasing and a traceback
never reach the person, and a KPI reading is refused in the same words however it arrives."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import starter
from bpo.web.app import create_app
from bpo.web.sessions import new_api_token
from infra.db import make_engine, migrate
from infra.settings import Settings, get_settings
from models.readings_file import ReadingsFileError, parse_readings

PYDANTIC = ("Input should be", "Field required", "Extra inputs are not permitted", "For further information visit")
DANA = "dana@acme.example"
REFERENCE = Path(__file__).resolve().parent.parent / "examples" / "reference-plan.yaml"


def in_our_words(said: str) -> None:
    for words in (*PYDANTIC, "Traceback", "validation error for"):
        assert words not in said, said


@pytest.fixture
def bpo(monkeypatch, tmp_path: Path, capsys):
    """``bpo ARGS...`` in this process: its exit code and what it printed to stderr. No server
    listens at the address given, so a command that got past its input checks fails with 1."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("BPO_DATA_DIR", str(tmp_path / "data"))

    def run(*args: str) -> tuple[int, str]:
        get_settings.cache_clear()
        code = starter.main(list(args))
        get_settings.cache_clear()
        return code, capsys.readouterr().err

    return run


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("kpi", "t1", "--by", DANA, "--period", "=HYPERLINK()", "csat=90"), "--period: "),
        (("kpi", "t1", "--by", DANA, "--period", "W1", "csat=ninety"), "csat: 'ninety' is not a number"),
        (("kpi", "t1", "--by", DANA, "--period", "W1", "csat=nan"), "csat: nan is not a finite number"),
        (("kpi", "t1", "--by", DANA, "--period", "W1", "csat=-3"), "csat: -3 is negative"),
        (("score", "t1", "gate", "--by", DANA, "--scores", "quality=nan"), "quality: nan is not a finite number"),
        (("score", "t1", "gate", "--by", DANA, "--scores", "quality=-inf"), "quality: -inf is not a finite number"),
        (("score", "t1", "gate", "--by", DANA, "--scores", "quality=1e999"), "quality: inf is not a finite number"),
        (("score", "t1", "gate", "--by", DANA, "--scores", "quality=five"), "quality: 'five' is not a number"),
        (("approve", "t1", "slas_signed", "--by", "dana\x07@acme.example"), "--by: "),
        (("approve", "t1", "slas_signed", "--by", DANA, "--note", "x" * 100_000), "--note: is too long"),
        (("reject", "t1", "slas_signed", "--by", DANA, "--reason", ""), "--reason: must not be empty"),
        (("delegate", "t1", "--from", DANA, "--to", "li@acme.example", "--until", "soon", "--by", DANA), "--until"),
        (
            ("cost", "t1", "--amount", "5", "--category", "Office Travel", "--note", "taxi", "--by", DANA),
            "--category: must be a key: lowercase letters, digits and '_', starting with a letter, such as 'office_travel'",
        ),
        (
            ("roster", "t1", "--add", "sam\tode", "--name", "Sam", "--role", "sme", "--by", DANA),
            "--id: is not in the form this field takes",
        ),
    ],
)
def test_a_bad_option_is_refused_naming_the_option_in_our_words(bpo, args, said):
    code, err = bpo(*args)
    assert code == 2, err
    assert said in err
    in_our_words(err)


def test_a_plan_with_many_mistakes_names_each_with_its_line_in_our_words(bpo, tmp_path: Path):
    text = REFERENCE.read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("name:", "nmae:", 1) + "colour: blue\ncalendar: {holidays: [someday], workdays: [funday]}\n")
    code, err = bpo("validate", str(broken))
    assert code == 2, err
    assert "broken.yaml:" in err and "unknown key 'colour'" in err and "'name' is required" in err
    assert "calendar.holidays[0]: must be a date (YYYY-MM-DD) (got 'someday')" in err
    assert "calendar.workdays[0]: must be one of" in err
    in_our_words(err)


def test_a_wrong_setting_is_named_without_its_value(bpo, monkeypatch):
    monkeypatch.setenv("BPO_ENCRYPTION_REQUIRED", "perhaps-S3CRET")
    code, err = bpo("status", "t1")
    assert code == 2 and "BPO_ENCRYPTION_REQUIRED: must be true or false" in err
    assert "S3CRET" not in err
    in_our_words(err)


def test_a_bad_connections_file_is_named_with_its_place(bpo, monkeypatch, tmp_path: Path):
    connections = tmp_path / "connections.yaml"
    connections.write_text("connections:\n  - {name: acme, kind: ftp, colour: blue}\n")
    monkeypatch.setenv("BPO_CONNECTIONS", str(connections))
    code, err = bpo("validate", str(REFERENCE))
    assert code == 2 and "BPO_CONNECTIONS: " in err and "unknown key 'colour'" in err, err
    in_our_words(err)


def test_a_readings_file_says_each_bad_row_in_the_words_of_the_command_line():
    raw = b"period,metric,value\n2027-09,csat,ninety\n2027-09,aht,-3\n=1+1,csat,90\n"
    with pytest.raises(ReadingsFileError) as refused:
        parse_readings(raw, "r.csv", ["csat", "aht"])
    said = str(refused.value)
    assert "r.csv:2: 2027-09,csat,ninety: csat: 'ninety' is not a number" in said
    assert "r.csv:3: 2027-09,aht,-3: aht: -3 is negative; KPI readings are counts, rates or amounts" in said
    assert "r.csv:4: =1+1,csat,90: period: " in said
    in_our_words(said)


@pytest.fixture
def api(tmp_path: Path):
    """The web app's API over a migrated database, with a token that may decide; no Temporal:
    every request here is refused before a transition is asked anything."""
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    migrate(engine)
    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}")
    token = new_api_token(engine, DANA, "test", "decide", timedelta(hours=1))
    with TestClient(create_app(settings, None, engine)) as client:  # type: ignore[arg-type]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        ("readings", {"period": "W1", "values": {"csat": "ninety"}}, "values: csat: 'ninety' is not a number"),
        ("readings", {"period": "W1", "values": {"csat": -3}}, "values: csat: -3 is negative"),
        ("readings", {"values": {"csat": 90}}, "period: 'period' is required"),
        ("readings", {"period": "W1", "values": [90]}, "values: must be a mapping of keys to values"),
        ("gates/slas_signed/approve", {"note": "x" * 3000}, "note: is too long: at most 2000 characters"),
        ("gates/slas_signed/approve", "{not json", "is not valid JSON"),
    ],
)
def test_bad_input_to_the_api_is_refused_in_our_words(api, path, body, said):
    url = f"/api/transitions/t1/{path}"
    if isinstance(body, str):
        answer = api.post(url, content=body, headers={"content-type": "application/json"})
    else:
        answer = api.post(url, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert said in error
    in_our_words(error)
