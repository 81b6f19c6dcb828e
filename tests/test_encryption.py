"""Encrypted payloads: Temporal's history holds no plan text, no name and no KPI value in clear."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from bpo.api import BpoError, get_status, send, start_transition
from bpo.running import build_worker
from bpo.server import register_search_attributes
from infra.binaries import find_binary
from infra.codec import EncryptionCodec, codec_for, parse_key, with_codec
from infra.settings import Settings
from models.commands import Approve
from models.plan_loader import load_plan
from tests.conftest import REFERENCE_PLAN
from tests.receivers import webhook_receiver
from tests.stack import BPO, DANA, LI, RAJ, ROOT, Stack, drive_to_pilot, free_port, pass_hypercare, short_plan

KEY = base64.b64encode(bytes(range(32))).decode()
OLD_KEY = base64.b64encode(bytes(range(1, 33))).decode()


async def test_codec_round_trip_and_key_rotation():
    old = EncryptionCodec(parse_key(OLD_KEY))
    sealed_by_old = await old.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Dana"}')])
    assert b"Dana" not in sealed_by_old[0].SerializeToString()
    rotated = codec_for(KEY, OLD_KEY)
    assert rotated is not None
    assert (await rotated.decode(sealed_by_old))[0].data == b'{"name":"Dana"}'
    sealed_by_new = await rotated.encode([Payload(data=b"x")])
    assert sealed_by_new[0].metadata["encryption-key-id"].decode() == rotated.current_id != old.current_id
    with pytest.raises(ValueError, match="does not hold"):
        await old.decode(sealed_by_new)


@contextlib.asynccontextmanager
async def transition_with(converter: DataConverter, tmp_path: Path, queue: str) -> AsyncIterator[tuple[Client, Client]]:
    """A reference-plan transition ``queue`` started, on a time-skipping server and a worker
    whose data converter is ``converter``: a client with it, and one that sends in clear."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=converter
    )
    async with env:
        await register_search_attributes(env.client)
        clear = Client(
            env.client.service_client, namespace=env.client.namespace, data_converter=pydantic_data_converter
        )
        settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=queue)
        with ThreadPoolExecutor(4) as executor:
            async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
                plan = load_plan(REFERENCE_PLAN, env={}).plan
                await start_transition(env.client, plan, task_queue=queue, transition_id=queue)
                yield env.client, clear


async def test_with_encryption_required_a_command_in_clear_is_refused_and_the_transition_runs_on(tmp_path: Path):
    sealed = with_codec(pydantic_data_converter, EncryptionCodec(parse_key(KEY), required=True))
    async with transition_with(sealed, tmp_path, "sealed-1") as (client, clear):
        tid = "sealed-1"
        with pytest.raises(BpoError):
            await send(clear, tid, Approve(gate="gap_analysis_approved", by=LI))
        await clear.get_workflow_handle(tid).signal("pause", {"by": LI, "reason": "in clear"})
        status = await send(client, tid, Approve(gate="gap_analysis_approved", by=LI))
        assert status.state == "running", "the signal in clear was refused, not applied"
        assert status.gates[0].status == "passed", "one command in clear jams nothing"
        assert any(d.kind == "approved" for d in (await get_status(client, tid)).decisions)


def test_requiring_encryption_without_a_key_is_refused_at_once(tmp_path: Path):
    with pytest.raises(ValidationError, match="BPO_ENCRYPTION_REQUIRED is set but BPO_ENCRYPTION_KEY is not"):
        Settings(BPO_DATA_DIR=tmp_path, BPO_ENCRYPTION_REQUIRED="true")


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_key_is_refused_with_how_to_make_one(bad):
    with pytest.raises(ValueError, match="BPO_ENCRYPTION_KEY"):
        parse_key(bad)


@pytest.mark.e2e
def test_with_encryption_on_the_history_shows_nothing_in_clear_and_the_plan_still_runs(tmp_path: Path):
    with webhook_receiver() as (url, received):
        s = Stack(tmp_path, {"BPO_ENCRYPTION_KEY": KEY, "BPO_WEBHOOK_URL": url})
        s.start_server()
        s.start_worker()
        try:
            tid = s.ok("start", str(short_plan(tmp_path))).strip()
            drive_to_pilot(s, tid)
            s.ok("kpi", tid, "--by", LI, "--period", "2027-W09", "csat=91.3719", "error_rate=1.2347", "first_response_hours=3.21")
            s.ok("kpi", tid, "--by", LI, "--period", "2027-W10", "csat=89.37", "error_rate=1.43", "first_response_hours=3.01")
            s.ok("approve", tid, "pilot_go", "--by", DANA, "--note", "Dana's confidential sign-off")
            s.wait_for(tid, lambda st: st["phase"] == "ramp")
            for wave in (1, 2, 3):
                s.ok(
                    "kpi",
                    tid,
                    "--by",
                    LI,
                    "--period",
                    f"R{wave}",
                    "csat=90.11",
                    "error_rate=1.5",
                    "first_response_hours=3",
                    "fcr=75",
                )
                s.ok("approve", tid, "wave_approved", "--by", LI)
                s.ok("approve", tid, "wave_approved", "--by", RAJ)
            pass_hypercare(s, tid, csat="90.11")
            assert s.wait_for(tid, lambda st: st["phase"] == "steady_state")["state"] == "running"

            shown = json.dumps(s.history(tid))
            assert "workflowExecutionStartedEventAttributes" in shown
            for secret in (
                "ACME",
                "NorthStar",
                "Dana",
                "Whitfield",
                "dana@acme.example",
                "li@acme.example",
                "Customer satisfaction",
                "91.3719",
                "1.2347",
                "confidential",
                "cost_per_contact",
            ):
                assert secret not in shown, secret
                assert base64.b64encode(secret.encode()).decode()[:8] not in shown, secret

            # The codec server gives someone who holds the key the payloads back.
            port = free_port()
            env = {**os.environ, "BPO_ENCRYPTION_KEY": KEY}
            server = subprocess.Popen(
                [*BPO, "codec-server", "--port", str(port)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
            )
            try:
                started = json.loads(shown)["events"][0]
                payloads = started["workflowExecutionStartedEventAttributes"]["input"]
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/decode",
                    data=json.dumps(payloads).encode(),
                    headers={"Content-Type": "application/json", "X-Namespace": "default"},
                    method="POST",
                )
                for _ in range(50):
                    try:
                        with urllib.request.urlopen(request, timeout=5) as answer:
                            decoded = json.loads(answer.read())
                        break
                    except OSError:
                        time.sleep(0.2)
                plain = base64.b64decode(decoded["payloads"][0]["data"]).decode()
                assert "ACME Tier-1 support to NorthStar BPO" in plain and "Dana Whitfield" in plain
            finally:
                server.terminate()
                server.wait()
        finally:
            s.stop()
        assert any("Steady-state governance begins" in r["body"]["subject"] for r in received)


def test_the_codec_server_answers_only_its_own_host_with_its_token_and_bounded_bodies():
    import http.client
    import threading

    from infra.codec import serve_codec

    port = free_port()
    server = serve_codec(codec_for(KEY), "127.0.0.1", port, [], token="t0ken")
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def post(path: str, body: bytes = b'{"payloads": []}', **headers: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Host": f"127.0.0.1:{port}", "Authorization": "Bearer t0ken", **headers}
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if "Content-Length" not in headers:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        return connection.getresponse().status

    try:
        assert post("/decode") == 200
        assert post("/decode", Authorization="Bearer wrong") == 401
        assert post("/decode", Host="evil.example") == 421  # a rebound DNS name
        assert post("/encode") == 404  # off unless --allow-encode
        assert post("/decode", b"", **{"Content-Length": "-1"}) == 411
        assert post("/decode", b"", **{"Content-Length": str(9 * 1024 * 1024)}) == 413
        assert post("/decode", b"not json") == 400
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match="needs a token"):
        serve_codec(codec_for(KEY), "0.0.0.0", free_port(), [])  # noqa: S104
