"""What a person (or a script) sees of `bpo` around its commands: the version, JSON from
`validate`, shell completion, a closed pipe, a server that is down, durations, dates typed as
durations, no database made where none was asked for, and `--verify` telling "changed" (1) from
"could not check" (3). Every test runs the real entry point (`python -m starter`, as the console
script does) with no Temporal server at the address it is given."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path

import pytest
from sqlmodel import Session

from bpo.commands.common import Exit, date_option
from infra.audit import write_entries
from infra.db import make_engine
from models.deliveries import AuditEntry
from tests.stack import BPO, ROOT, free_port
from workflows.rules.versions import NEWEST

REFERENCE = ROOT / "examples" / "reference-plan.yaml"
PYDANTIC = ("Input should be", "Field required", "validation error for", "Traceback")


def bpo(*args: str, cwd: Path = ROOT, stdout: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`bpo ARGS` with none of this machine's BPO_/TEMPORAL_ settings, nothing listening at its
    Temporal address, and ``env`` on top."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BPO_", "DATABASE_URL", "TEMPORAL_"))}
    full = {**base, "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "PYTHONPATH": str(ROOT), **env}
    if stdout is None:
        return subprocess.run([*BPO, *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=120)
    return subprocess.run(
        [*BPO, *args], env=full, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120
    )


def test_version_names_the_package_and_the_rules_epoch_it_runs():
    done = bpo("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"bpo {metadata.version('bpo-transition')} (rules epoch {NEWEST})"


def test_version_loads_neither_the_state_machine_nor_temporal():
    probe = (
        "import sys, starter\n"
        "try:\n    starter.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('workflows.rules.machine', 'temporalio.client') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"bpo {metadata.version('bpo-transition')} (rules epoch {NEWEST})", "[]"]


def test_validate_json_says_ok_with_the_plans_size():
    done = bpo("validate", str(REFERENCE), "--json")
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["ok"] is True and verdict["problems"] == []
    assert verdict["summary"] == {"phases": 6, "gates": 15, "people": 5, "kpis": 6, "feeds": 0}


def test_validate_json_lists_every_problem_with_its_path_and_line_and_exits_2(tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(REFERENCE.read_text().replace("rule: all", "rule: every", 1) + "colour: blue\n")
    done = bpo("validate", str(broken), "--json")
    assert done.returncode == 2
    verdict = json.loads(done.stdout)  # nothing but JSON on standard output, even so
    assert verdict["ok"] is False and verdict["summary"] is None
    problems = {p["path"]: p for p in verdict["problems"]}
    assert "unknown key 'colour'" in problems["colour"]["message"]
    assert problems["colour"]["line"] == len(broken.read_text().splitlines())
    rule = next(p for p in verdict["problems"] if p["path"].endswith(".rule"))
    assert isinstance(rule["line"], int) and "every" in rule["message"]
    for said in (done.stdout, done.stderr):
        assert not any(words in said for words in PYDANTIC), said


def test_validate_json_of_a_missing_file_is_a_problem_in_json(tmp_path: Path):
    done = bpo("validate", str(tmp_path / "nowhere.yaml"), "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["problems"] == [
        {"path": "", "line": None, "message": "cannot read the plan: No such file or directory"}
    ]


@pytest.mark.parametrize(
    ("args", "code"),
    # argparse's own --help swallows a failed write itself: quiet, with its usual 0
    [(("config",), 141), (("schema",), 141), (("--help",), 0), (("completion", "bash"), 141)],
)
def test_a_closed_pipe_ends_quietly(args: tuple[str, ...], code: int):
    # The reader is gone before bpo writes: `bpo config | head -0`, without the race of a real head.
    read, write = os.pipe()
    os.close(read)
    try:
        done = bpo(*args, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == code, done.stderr
    assert done.stderr == ""


def test_a_server_that_is_down_is_one_plain_sentence_with_what_to_check():
    port = free_port()
    for args in (("status", "t1"), ("list",), ("raid", "t1", "list")):
        done = bpo(*args, TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
        assert done.returncode == 1
        said = done.stderr.strip()
        assert said.startswith(f"bpo {args[0]}: cannot reach Temporal at 127.0.0.1:{port}"), said
        assert "nothing answers there" in said and "'make run' or 'bpo up'" in said and "TEMPORAL_ADDRESS" in said
        assert "\n" not in said and "tonic" not in said and "Error(" not in said


def test_a_host_name_that_does_not_resolve_is_said_so():
    done = bpo("status", "t1", TEMPORAL_ADDRESS="no-such-host.invalid:7233")
    assert done.returncode == 1
    assert "cannot reach Temporal at no-such-host.invalid:7233" in done.stderr
    assert "that host name does not resolve" in done.stderr and "tonic" not in done.stderr


def test_config_shows_durations_as_a_plan_writes_them():
    done = bpo("config", BPO_LINK_TTL="90s", BPO_DELIVERY_GIVE_UP="P1D")
    assert done.returncode == 0, done.stderr
    shown = {name: value.strip() for name, _, value in (line.partition(" ") for line in done.stdout.splitlines())}
    assert shown["BPO_LINK_TTL"] == "90s" and shown["BPO_DELIVERY_GIVE_UP"] == "1d"
    assert shown["BPO_SESSION_TTL"] == "12h" and shown["BPO_API_TOKEN_TTL"] == "90d"
    assert "day," not in done.stdout and "0:00" not in done.stdout
    as_json = json.loads(bpo("config", "--json").stdout)
    assert as_json["BPO_LINK_TTL"] == "1d"


def test_reading_the_trail_where_there_is_no_audit_database_creates_none(tmp_path: Path):
    for args, code in (
        (("audit", "x"), 1),
        (("audit", "x", "--json"), 1),
        (("notices", "x"), 1),
        (("audit", "x", "--verify"), 3),
        (("evidence", "x", "gate", "--verify"), 3),
    ):
        done = bpo(*args, cwd=tmp_path)
        assert done.returncode == code, (args, done.stderr)
        where = tmp_path / ".data" / "audit.db"
        assert f"there is no audit database at {where}" in done.stderr and "BPO_DATA_DIR" in done.stderr
        assert list(tmp_path.iterdir()) == [], f"bpo {' '.join(args)} wrote into the folder it ran in"


def test_a_named_data_folder_without_a_database_is_named_with_its_setting(tmp_path: Path):
    done = bpo("audit", "x", cwd=tmp_path, BPO_DATA_DIR=str(tmp_path / "elsewhere"))
    assert done.returncode == 1
    assert f"no audit database at {tmp_path / 'elsewhere' / 'audit.db'}" in done.stderr
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("due", ["30d", "2w", "P30D", "2027-02-01", "2027-02-01T17:00", "2027-02-01T17:00+01:00"])
def test_due_takes_a_date_a_datetime_or_a_duration_from_now(due: str):
    done = bpo("raid", "t1", "add", "--kind", "risk", "--title", "T", "--owner", "li@acme.example", "--due", due,
               "--by", "li@acme.example")  # fmt: skip
    # Past its input checks: it went on to look for the server.
    assert done.returncode == 1 and "cannot reach Temporal" in done.stderr, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("raid", "t1", "add", "--kind", "risk", "--title", "T", "--owner", "li@x", "--due", "soon", "--by", "li@x"),
        ("delegate", "t1", "--from", "li@x", "--to", "dana@x", "--until", "soon", "--by", "li@x"),
    ],
)
def test_a_date_that_is_none_of_those_is_refused_in_our_words(args: tuple[str, ...]):
    done = bpo(*args)
    option = "--due" if "--due" in args else "--until"
    assert done.returncode == 2
    assert f"{option}: 'soon' is not a date; write a date (2027-02-01)" in done.stderr
    assert "a duration from now (30d, 2w)" in done.stderr
    assert not any(words in done.stderr for words in (*PYDANTIC, "too short", "valid date")), done.stderr


def test_a_duration_counts_from_now_and_a_datetime_gives_its_day():
    now = datetime(2027, 1, 30, 22, 0, tzinfo=UTC)
    assert date_option("3d", "due", now) == date(2027, 2, 2)
    assert date_option("P2W", "due", now) == date(2027, 2, 13)
    assert date_option("2027-03-01T08:00", "due", now) == date(2027, 3, 1)
    assert date_option(None, "due", now) is None
    with pytest.raises(Exit, match="--due: '0d' is not a date"):
        date_option("0d", "due", now)


def _pinned_trail(data: Path, uploads: dict[str, str]) -> None:
    """A trail of 't1' whose approvals of each gate pinned an uploaded file (by its SHA-256)."""
    at = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)
    entries = [AuditEntry(id="t1/run/1", transition_id="t1", kind="transition_started", phase="planning", at=at)]
    for n, (gate, sha) in enumerate(uploads.items(), start=2):
        entries.append(
            AuditEntry(id=f"t1/run/{n}", transition_id="t1", kind="approved", phase="planning", at=at, gate=gate,
                       actor="li@acme.example",
                       detail={"evidence": f"upload:{sha}/minutes.pdf", "pinned": {"sha256": sha, "size": 7}})
        )  # fmt: skip
    with Session(make_engine(f"sqlite:///{data / 'audit.db'}")) as session:
        write_entries(entries, session=session)


def test_evidence_verify_exits_1_when_changed_and_3_when_it_could_not_be_checked(tmp_path: Path):
    data = tmp_path / "data"
    approved = b"minutes"
    sha = hashlib.sha256(approved).hexdigest()
    gone = hashlib.sha256(b"never kept").hexdigest()
    _pinned_trail(data, {"changed_gate": sha, "gone_gate": gone})
    kept = data / "evidence" / "sha256" / sha[:2] / sha
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"minutes, edited")  # the file in the store is no longer what was approved
    env = {"BPO_DATA_DIR": str(data)}

    changed = bpo("evidence", "t1", "changed_gate", "--verify", **env)
    assert changed.returncode == 1, changed.stderr
    assert "1 of 1 pinned evidence of 'changed_gate' no longer match" in changed.stderr

    unchecked = bpo("evidence", "t1", "gone_gate", "--verify", **env)
    assert unchecked.returncode == 3, unchecked.stderr
    assert "could not be checked now" in unchecked.stderr and "none found changed" in unchecked.stderr
    assert "no longer in the evidence store" in unchecked.stderr

    kept.write_bytes(approved)
    assert bpo("evidence", "t1", "changed_gate", "--verify", **env).returncode == 0


def test_completion_scripts_come_from_the_parser():
    for shell in ("bash", "zsh", "fish"):
        done = bpo("completion", shell)
        assert done.returncode == 0, done.stderr
        # fish spells options without their dashes (-l replace-ended)
        for word in ("validate", "completion", "raid", "version", "replace-ended", "on_track", "decision"):
            assert word in done.stdout, (shell, word)
    assert bpo("completion", "tcsh").returncode == 2


def _script(shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"bpo.{shell}"
    path.write_text(bpo("completion", shell).stdout)
    return path


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_choices(tmp_path: Path):
    script = _script("bash", tmp_path)
    probe = f"""source {script}
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=(); _bpo; echo "${{COMPREPLY[*]}}"; }}
t bpo sta
t bpo --ver
t bpo raid --by p t1 ''
t bpo raid t1 add --kind ''
t bpo list --health ''
t bpo validate --j
"""
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "start status",
        "--version",
        "add close list",
        "risk action issue decision",
        "on_track at_risk escalated",
        "--json",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_and_choices(tmp_path: Path):
    script = _script("fish", tmp_path)
    probe = f"source {script}; complete -C 'bpo sta'; complete -C 'bpo completion '"
    done = subprocess.run(["fish", "--no-config", "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    offered = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert offered == ["start", "status", "bash", "fish", "zsh"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses_and_registers_itself(tmp_path: Path):
    script = _script("zsh", tmp_path)
    assert subprocess.run(["zsh", "-n", str(script)], capture_output=True, timeout=30).returncode == 0
    probe = f"autoload -U compinit && compinit -u -d {tmp_path}/zcompdump; source {script}; print -r -- $_comps[bpo]"
    done = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "HOME": str(tmp_path)})  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "_bpo", done.stderr


def test_audit_verify_with_the_server_down_could_not_check_and_says_why_plainly(tmp_path: Path):
    data = tmp_path / "data"
    _pinned_trail(data, {})
    port = free_port()
    done = bpo("audit", "t1", "--verify", BPO_DATA_DIR=str(data), TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
    assert done.returncode == 3, done.stderr
    assert f"could not be checked: cannot reach Temporal at 127.0.0.1:{port}" in done.stderr
    assert "tonic" not in done.stderr and "Error(" not in done.stderr
