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
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter

from bpo.api import send
from infra.codec import EncryptionCodec, parse_key, with_codec
from models.commands import Approve
from tests.stack import LI
from tests.test_encryption import KEY, transition_with

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
    async with transition_with(with_codec(pydantic_data_converter, codec), tmp_path, "stray-1") as (client, clear):
        await clear.get_workflow_handle("stray-1").signal("pause", RawValue(STRAY[shape]))
        try:
            status = await asyncio.wait_for(
                send(client, "stray-1", Approve(gate="gap_analysis_approved", by=LI)), timeout=20
            )
        except TimeoutError:
            pytest.fail(f"{deployment}: one stray signal jammed the transition (workflow task fails)")
        assert status.gates[0].status == "passed"
