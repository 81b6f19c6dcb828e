"""Attack 38, on the payload walks (bpo/visiting.py): the SDK's walks did not only hand payloads
back unchanged without a codec. Two of them raise (TMPRL1105) on a payload shaped like an
external-storage reference (metadata ``__temporal_external_storage_reference: true``, or encoding
``json/external-storage-reference``) when no external storage is configured, which fails the
workflow task before the workflow, or the EncryptionCodec's "refused" payload, can turn the stray
command into a refusal; and every task after it, the signal staying in the history.

Anyone who can signal the workflow in clear (the Web UI's "Send Signal", `temporal workflow signal
--input-meta`, an integration) can send one. The transition must run on, with a key or without:
"one command in clear jams nothing" (tests/test_encryption.py, infra/codec.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bpo.api import send, start_transition
from bpo.running import build_worker
from bpo.server import register_search_attributes
from infra.binaries import find_binary
from infra.codec import EncryptionCodec, parse_key, with_codec
from infra.settings import Settings
from models.commands import Approve
from models.plan_loader import load_plan
from tests.conftest import REFERENCE_PLAN
from tests.stack import LI
from tests.test_encryption import KEY

STRAY = {
    "marker": Payload(
        metadata={"encoding": b"json/plain", "__temporal_external_storage_reference": b"true"},
        data=b"{}",
    ),
    "encoding": Payload(metadata={"encoding": b"json/external-storage-reference"}, data=b"{}"),
}


@pytest.mark.parametrize(
    ("deployment", "shape"),
    [
        ("no-key", "marker"),  # nothing walked: the stray signal is refused, the transition runs on
        ("key", "encoding"),  # BPO_ENCRYPTION_KEY: the SDK's walks failed every workflow task
        ("key-required", "marker"),  # BPO_ENCRYPTION_REQUIRED: the codec never got to refuse it
    ],
)
async def test_a_stray_reference_shaped_signal_jams_nothing(tmp_path: Path, deployment: str, shape: str):
    codec = None
    if deployment.startswith("key"):
        codec = EncryptionCodec(parse_key(KEY), required=deployment == "key-required")
    converter = with_codec(pydantic_data_converter, codec)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"), data_converter=converter
    )
    async with env:
        await register_search_attributes(env.client)
        clear = Client(
            env.client.service_client, namespace=env.client.namespace, data_converter=pydantic_data_converter
        )
        settings = Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE="stray")
        with ThreadPoolExecutor(4) as executor:
            async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
                plan = load_plan(REFERENCE_PLAN, env={}).plan
                tid = await start_transition(env.client, plan, task_queue="stray", transition_id="stray-1")
                await clear.get_workflow_handle(tid).signal("pause", RawValue(STRAY[shape]))
                try:
                    status = await asyncio.wait_for(
                        send(env.client, tid, Approve(gate="gap_analysis_approved", by=LI)), timeout=20
                    )
                except TimeoutError:
                    pytest.fail(f"{deployment}: one stray signal jammed the transition (workflow task fails)")
                assert status.gates[0].status == "passed"
