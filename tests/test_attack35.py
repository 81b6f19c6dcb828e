"""Attack on attack 34's leftovers and the worker's lighter sandbox (branch ``attack35``).

What an outsider gives: a plan as deep as its size allows (``[[[[…]]]]``, half a megabyte) is
refused as nested too deep, but only after the alias check has scanned every one of its tokens,
some two minutes of CPU: `bpo validate` hangs, and the web app's upload or amend form, which reads
the plan in its event loop, stops answering everybody meanwhile. The depth is checked first now:
it stops at the 65th level.

A KPI feed's source answering JSON nested deeper than Python's decoder recurses: the pull failed
with RecursionError, told as "unreachable" and tried again for ever; it is no data, with why.

A BPO_ENCRYPTION_KEY that is not a key: now that connecting tells every failure as a server not
reached, `bpo worker` (and `bpo-worker`, `python worker.py`) said "cannot reach Temporal …: the TLS
handshake failed" of a key that is not base64; the key is checked with the other settings now.
And `bpo web` with no server printed the SDK's "tonic::transport::Error(…)" where `bpo worker`
says in words that nothing answers. ``BPO_LOG_LEVEL=warn`` (or ``fatal``), which Python's logging
took, stopped every command once the level was checked; they are its other names again. A
worker stopped by SIGTERM or Ctrl-C (`python worker.py` too, now that it is `bpo worker`) left
its writer's pool to the resource tracker, which warned of leaked semaphores. A worker on a
namespace the server lacks printed the SDK core's Status dump; it says so in words. TLS asked of
a server that speaks none (an API key turns it on) was "the connection failed; is it running?".
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.plan_loader import MAX_PLAN_BYTES, PlanError, parse_plan

ROOT = Path(__file__).resolve().parent.parent


def _deepest_plan() -> str:
    """A plan of lists nested as deep as the plan's size allows."""
    levels = (MAX_PLAN_BYTES - 16) // 2
    return "[" * levels + "]" * levels


def test_a_plan_as_deep_as_its_size_allows_is_refused_with_its_line(tmp_path: Path):
    plan = tmp_path / "deep.yaml"
    plan.write_text(_deepest_plan())
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "BPO_CONNECTIONS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "starter", "validate", str(plan)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard: before, the alias scan took some two minutes over it
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert f"{plan}:1: (top): the plan is nested deeper than 64 levels" in said, said


def test_a_plans_depth_is_checked_before_its_every_token_is_scanned():
    """The web app's start and amend forms call `parse_plan` in the event loop, so every page
    waits for it, and the alias scan over a half-megabyte ``[[[[…]]]]`` took minutes: the depth,
    which stops at the level too deep, is checked first (an alias further on is not reached)."""
    text = "name: x\nnotes: " + "[" * 100 + "]" * 100 + "\nlater: &anchor 1\n"
    try:
        parse_plan(text, source="deep.yaml", env={})
    except PlanError as error:
        assert "nested deeper than 64 levels" in str(error) and "anchor" not in str(error), str(error)
    else:
        raise AssertionError("a plan nested that deep was taken")


async def test_a_feed_answering_json_nested_too_deep_is_no_data_not_a_failed_pull():
    """A KPI feed's source (a plan's URL, a deployment's platform) answering ``[[[[…]]]]``, well
    under a feed's megabyte: the pull failed with Python's RecursionError, shown as "unreachable:
    the pull failed on the worker" and tried again forever. It answered, with no figures: no data."""
    import httpx
    from temporalio.testing import ActivityEnvironment

    from activities.feeds import FeedActivities
    from models.connections import Connections
    from models.feeds import FeedPull, HttpFeed
    from tests.receivers import document_server

    with document_server() as (base, files):
        files.put("/weeks/2027-W05.json", b"[" * 100_000 + b"]" * 100_000, "application/json")
        files.json("/weeks/2027-W06.json", {"csat": 88})
        source = HttpFeed(name="cc", kind="json", url=f"{base}/weeks/{{period}}.json")
        weeks = ["2027-W05", "2027-W06"]
        asked = FeedPull(
            transition_id="t", source=source, client="ACME Corp", metrics={"csat": "$.csat"}, periods=weeks
        )
        async with httpx.AsyncClient() as http:
            result = await ActivityEnvironment().run(FeedActivities(http, {}, Connections()).pull, asked)
    assert result.unreachable is None, result
    assert "nested too deep" in result.no_data["2027-W05"], result
    assert result.readings["2027-W06"] == {"csat": 88.0}, "the period after it is read as ever"


@pytest.mark.parametrize(
    ("script", "key", "old"),
    [
        (["bpo", "worker"], "notakey", ""),
        (["bpo-worker"], base64.b64encode(b"short").decode(), ""),
        (["python", "worker.py"], "notakey", ""),
        (["bpo", "list"], "notakey", ""),
        (["bpo", "worker"], base64.b64encode(b"k" * 32).decode(), "notakey"),
    ],
)
def test_a_wrong_encryption_key_is_told_as_the_setting_not_as_a_server_unreached(
    tmp_path: Path, script: list[str], key: str, old: str
):
    """``connect`` tells every failure as `Unreachable` now, the converter's key included: a key
    that is not base64 made `bpo worker` say "cannot reach Temporal …: the TLS handshake failed
    (TEMPORAL_TLS_CA, …)" ("openssl" in the key's hint reads as TLS), where it said what was wrong
    with the key; every other command said so already. The key is a setting: checked with them."""
    # The console scripts, as this checkout's code (the shared environment's scripts may import another's)
    command = [
        sys.executable,
        *{"bpo": ["-m", "starter"], "bpo-worker": ["-c", "import worker; worker.main()"]}.get(script[0], []),
        *script[1:],
    ]
    env = {
        **os.environ,
        "BPO_DATA_DIR": str(tmp_path / "data"),
        "TEMPORAL_ADDRESS": "127.0.0.1:9",
        "BPO_ENCRYPTION_KEY": key,
        "BPO_ENCRYPTION_OLD_KEYS": old,
    }
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "a setting in the environment or .env is wrong" in said, said
    assert ("BPO_ENCRYPTION_OLD_KEYS" if old else "BPO_ENCRYPTION_KEY") in said, said
    assert "cannot reach Temporal" not in said and "TLS" not in said and "Traceback" not in said, said
    assert key not in said and (not old or old not in said), "a key is a secret: never repeated"


def test_the_web_app_says_in_words_that_no_server_answers(tmp_path: Path):
    """`connect` raises `Unreachable` now, and `bpo worker` says it in words; `bpo web` printed
    "failed: Unreachable: Failed client connect: … tonic::transport::Error(…)"."""
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "TEMPORAL_ADDRESS": "127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "starter", "web", "--port", "9"],  # never reached: the server is asked first
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert said.startswith(
        "bpo web: cannot reach Temporal at 127.0.0.1:9 (namespace default): nothing answers there"
    ), said
    assert "tonic" not in said and "Unreachable" not in said and "Traceback" not in said, said


@pytest.mark.parametrize(("given", "level"), [("warn", "warning"), ("WARN", "warning"), ("fatal", "critical")])
def test_the_log_levels_pythons_logging_takes_still_start_every_command(tmp_path: Path, given: str, level: str):
    """``BPO_LOG_LEVEL=warn`` (the word Temporal's own server takes) or ``fatal``: Python's logging
    takes both, and a worker ran with them; checked as a Literal now, they stopped every command
    with exit 2, `bpo validate` and `bpo status` too, which do not even log at that level."""
    env = {**os.environ, "BPO_DATA_DIR": str(tmp_path / "data"), "BPO_LOG_LEVEL": given, "BPO_CONNECTIONS": ""}
    done = subprocess.run(
        [sys.executable, "-m", "starter", "validate", str(ROOT / "examples" / "reference-plan.yaml")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    from infra.settings import Settings

    assert Settings(BPO_LOG_LEVEL=given).log_level == level  # what the worker and its writer log at


@pytest.mark.e2e
def test_a_worker_stopped_by_a_signal_leaves_its_writer_without_a_leak_warning(tmp_path: Path):
    """`python worker.py` and `bpo-worker` are `bpo worker` now, which ends with ``os._exit``:
    the writer's process pool was never shut down, and every stop (SIGTERM from an orchestrator,
    Ctrl-C) ended with Python's "resource_tracker: There appear to be 5 leaked semaphore objects
    to clean up at shutdown" on stderr, a line that is no JSON among a log shipper's JSON, where
    ``python worker.py`` stopped cleanly before."""
    import signal
    import threading

    from tests.stack import Stack, short_plan

    s = Stack(tmp_path, {"BPO_AUDIT_WRITER_PROCESSES": "1"})
    s.start_server()
    try:
        for name, command, sig in (
            ("worker.py", [sys.executable, "worker.py"], signal.SIGTERM),
            ("bpo worker", [sys.executable, "-m", "starter", "worker"], signal.SIGINT),
        ):
            worker = subprocess.Popen(command, env=s.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            lines: list[str] = []
            # Read to the end: the pipe closes when the last process that writes it (the worker, its
            # writer, multiprocessing's resource tracker, which warns last) has ended.
            reader = threading.Thread(target=lambda w=worker: lines.extend(map(bytes.decode, w.stdout)))
            reader.start()
            deadline = time.monotonic() + 60
            while not any("worker_started" in line for line in lines) and time.monotonic() < deadline:
                time.sleep(0.2)
            tid = s.ok("start", str(short_plan(tmp_path)), "--id", f"stop-{int(sig)}").strip()  # the writer writes
            s.wait_for(tid, lambda st: st["audit_head"] is not None)
            worker.send_signal(sig)
            assert worker.wait(timeout=60) == 0, "".join(lines)[-2000:]
            reader.join(timeout=30)
            said = "".join(lines)
            assert "worker_stopping" in said, said[-2000:]
            assert "leaked" not in said and "Traceback" not in said, f"{name}: {said[-1500:]}"
    finally:
        s.stop()


@pytest.mark.e2e
def test_a_worker_on_a_namespace_the_server_lacks_says_so_in_words(tmp_path: Path):
    """``TEMPORAL_NAMESPACE`` mistyped: the server answers, but the SDK's worker validation fails,
    and `bpo worker` printed "failed: RuntimeError: Worker validation failed: … Status { code:
    NotFound, …, details: b"\\x08\\x05…", metadata: MetadataMap { … } }". It says, as it says for
    a server that does not answer, what is wrong and which setting to look at."""
    from tests.stack import Stack

    s = Stack(tmp_path)
    s.start_server()
    try:
        env = {**s.env, "TEMPORAL_NAMESPACE": "nope"}
        done = subprocess.run(
            [sys.executable, "-m", "starter", "worker"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
    finally:
        s.stop()
    said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.stdout
    assert done.returncode == 1, done.stdout + done.stderr
    assert said.startswith(f"bpo worker: cannot reach Temporal at {s.env['TEMPORAL_ADDRESS']} (namespace nope): "), said
    assert "the namespace TEMPORAL_NAMESPACE names is not there" in said, said
    assert "Status {" not in said and "RuntimeError" not in said and "MetadataMap" not in said, said


@pytest.mark.e2e
@pytest.mark.parametrize("tls", [{"TEMPORAL_API_KEY": "a-key"}, {"TEMPORAL_TLS_SERVER_NAME": "temporal.example"}])
def test_tls_asked_of_a_server_that_speaks_none_is_told_as_tls(tmp_path: Path, tls: dict[str, str]):
    """TLS turned on (an API key turns it on, as a TLS setting does) toward a server that speaks
    plain gRPC: `bpo worker` said "the connection failed; is it running?" of a server that runs
    (it printed the SDK's ``InvalidContentType`` before it said things in words), as `bpo list` did."""
    from tests.stack import Stack

    s = Stack(tmp_path)
    s.start_server()
    try:
        said = {}
        for command in ("worker", "list"):
            done = subprocess.run(
                [sys.executable, "-m", "starter", command],
                env={**s.env, **tls},
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            said[command] = f"{done.returncode}:{done.stdout}{done.stderr}"
    finally:
        s.stop()
    for command, text in said.items():
        assert text.startswith(f"1:bpo {command}: cannot reach Temporal at {s.env['TEMPORAL_ADDRESS']}"), text
        assert "it does not speak TLS" in text and "the connection failed" not in text, text
