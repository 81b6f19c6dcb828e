"""Bad input to every `bpo` command, swept from the parser (`tests/cli_sweep.py`): each argument
of each subcommand is given something wrong in turn (an empty string, a control character, an
unknown choice, a non-number or out-of-range number, a malformed date, a missing file, an
unknown transition), and the refusal must be a sentence on stderr in our words: the exit code
`docs/cli.md` gives, the argument named, no traceback, no pydantic phrasing, and nothing
started. No Temporal server answers at the address the commands are given, so a command whose
input passed every check says the server is away (exit 1)."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

import starter
from infra.settings import get_settings
from tests.cli_sweep import Case, cases, subcommands

PYDANTIC = (
    "Input should be",
    "Field required",
    "Extra inputs are not permitted",
    "For further information visit",
    "validation error for",
    "type=",
)
AWAY = "cannot reach Temporal at 127.0.0.1:9"
NO_DATABASE = "there is no audit database at"


class Started(BaseException):
    """A long-running command got as far as starting something: it took a wrong value."""


@pytest.fixture
def bpo(monkeypatch, tmp_path: Path, capsys):
    """``bpo ARGS...`` in this process: its exit code, stdout and stderr. Nothing answers at its
    Temporal address, its data folder is empty, and what would start a server, a worker or a web
    app raises `Started` instead."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("BPO_", "TEMPORAL_")) or n == "DATABASE_URL"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    monkeypatch.setenv("BPO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BPO_ENCRYPTION_KEY", base64.b64encode(bytes(32)).decode())  # for codec-server
    monkeypatch.setenv("BPO_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # the plans' warnings left out

    def started(*args: object, **kwargs: object) -> None:
        raise Started(args)

    import bpo.running
    import bpo.web.app
    import infra.codec

    monkeypatch.setattr(os, "execv", started)
    monkeypatch.setattr(subprocess, "Popen", started)
    monkeypatch.setattr(bpo.running, "run_worker", started)
    monkeypatch.setattr(bpo.web.app, "serve", started)
    monkeypatch.setattr(infra.codec, "serve_codec", started)

    def run(*args: str) -> tuple[int, str, str]:
        get_settings.cache_clear()
        try:
            code = starter.main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
        said = capsys.readouterr()
        return code, said.out, said.err

    return run


SWEEP = cases(Path(tempfile.gettempdir()))  # --out is written only past every check: never here


def test_the_sweep_covers_every_subcommand():
    swept = {case.command for case in SWEEP}
    assert swept == set(subcommands()), set(subcommands()) - swept
    assert len(SWEEP) > 200  # each argument of each command, not one case per command


@pytest.mark.parametrize("case", SWEEP, ids=[c.id for c in SWEEP])
def test_bad_input_is_refused_in_one_plain_sentence(bpo, case: Case):
    try:
        code, out, err = bpo(*case.argv)
    except Started:
        pytest.fail(f"bpo {' '.join(case.argv)!r} started something with a wrong value")
    for said in (out, err):
        assert "Traceback" not in said, said
        assert not any(words in said for words in PYDANTIC), said
    # A plan's warnings (a channel whose setting is not here) may come first: they are not the refusal.
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("warning: "))
    assert err.strip(), f"exit {code} and nothing on stderr"
    assert err.startswith((f"bpo {case.command}: ", "usage: ")), err
    assert ": failed: " not in err, err  # main's last resort: an exception nobody turned into words
    if AWAY in err or NO_DATABASE in err:
        # Past every check this machine can make: only the server (or the trail) can judge it.
        assert code in (1, 3), err
        # ...which is only so of a transition id in the form ids take: the rest is checked here.
        assert case.what.endswith("id=unknown"), f"{case.what} went on to the server: {err}"
        return
    assert code == 2, err
    assert any(name.lower() in err.lower() for name in case.names), f"the refusal does not name {case.names[0]}: {err}"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("keys", "new", "--by", "dana@acme.example"), "--by only goes with 'bpo keys rotate ID'"),
        (("keys", "new", "t1", "--add", "k1"), "ID, --add only go with 'bpo keys rotate ID'"),
        (("notices", "t1", "--by", "dana@acme.example"), "--by only goes with --retry"),
        (("feed", "t1", "--by", "dana@acme.example"), "--by says who asks for --pull-now"),
    ],
)
def test_an_option_of_another_mode_is_refused_not_passed_over(bpo, args: tuple[str, ...], said: str):
    code, out, err = bpo(*args)
    assert code == 2 and said in err, err
    assert out == ""  # `keys new` printed no key pair


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("server", "--port", "70000"), "argument --port: 70000 is not a port number (1 to 65535)"),
        (("web", "--host", "local host"), "argument --host: 'local host' is not an address or host name"),
        (("status", "t1/x/y"), "ID: 't1/x/y' is not a transition id"),
        (("report", "t1", "--out", "/no/such/folder/r.html"), "--out: there is no folder /no/such/folder"),
    ],
)
def test_the_console_script_refuses_with_exit_2_and_no_traceback(args: tuple[str, ...], said: str):
    from tests.test_cli_usability import bpo as console

    done = console(*args)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
