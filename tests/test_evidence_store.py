"""The evidence store: a folder by default, an S3-compatible bucket in production. The bucket is a
real S3-compatible server (moto's, from PyPI) on loopback, reached through boto3."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.evidence import EvidenceActivities
from infra.evidence_store import FolderStore, S3Store, key_for
from models.evidence import PinRequest
from tests.receivers import document_server
from tests.stack import free_port

BODY = b"%PDF-1.7 training sign-off sheet\n"


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3-compatible server on 127.0.0.1, with a bucket called evidence."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="evidence")
    yield endpoint
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.terminate()
    server.wait(10)


async def pin_with(store, url: str):
    async with httpx.AsyncClient() as http:
        acts = EvidenceActivities(http, store, 1024 * 1024)
        return await ActivityEnvironment().run(acts.pin, PinRequest(transition_id="t", gate="g", evidence=url))


async def test_the_s3_store_keeps_pinned_evidence_by_its_hash(s3_endpoint):
    store = S3Store("s3://evidence/acme", s3_endpoint)
    with document_server() as (base, served):
        served.put("/signoff.pdf", BODY, "application/pdf")
        result = await pin_with(store, f"{base}/signoff.pdf")
    digest = hashlib.sha256(BODY).hexdigest()
    assert result.pin is not None and result.pin.sha256 == digest and result.pin.stored == key_for(digest)
    listed = boto3.client("s3", endpoint_url=s3_endpoint).get_object(Bucket="evidence", Key=f"acme/{key_for(digest)}")
    assert listed["Body"].read() == BODY and listed["Metadata"]["sha256"] == digest
    assert await store.get(key_for(digest)) == BODY
    assert await store.get(key_for("0" * 64)) is None


async def test_an_uploaded_file_is_pinned_from_the_store_and_a_tampered_one_is_not(tmp_path):
    store = FolderStore(tmp_path)
    digest = hashlib.sha256(BODY).hexdigest()
    await store.put(digest, BODY, "application/pdf")
    result = await pin_with(store, f"upload:{digest}/signoff.pdf")
    assert result.pin is not None and result.pin.size == len(BODY)
    (tmp_path / key_for(digest)).write_bytes(BODY + b"edited")
    result = await pin_with(store, f"upload:{digest}/signoff.pdf")
    assert result.pin is None and result.problem == "the uploaded file is not in the evidence store"


async def test_a_web_upload_is_checked_at_the_door_and_kept_by_its_hash(tmp_path):
    import io

    from starlette.datastructures import UploadFile

    from bpo.errors import BpoError
    from bpo.web.uploads import keep_upload
    from infra.settings import Settings

    settings = Settings(BPO_DATA_DIR=tmp_path, BPO_EVIDENCE_MAX_MB=1)
    with pytest.raises(BpoError, match="big.pdf is larger than 1 MB"):
        await keep_upload(settings, UploadFile(io.BytesIO(b"%PDF" + b"0" * 1024 * 1024), filename="big.pdf"))
    with pytest.raises(BpoError, match="setup.exe is refused: files of type .* are not accepted"):
        await keep_upload(settings, UploadFile(io.BytesIO(b"MZ"), filename="setup.exe"))
    assert not (tmp_path / "evidence").exists(), "nothing refused is kept"
    ref = await keep_upload(settings, UploadFile(io.BytesIO(BODY), filename="../../etc/sign off.pdf"))
    digest = hashlib.sha256(BODY).hexdigest()
    assert ref == f"upload:{digest}/sign off.pdf"
    assert (tmp_path / "evidence" / key_for(digest)).read_bytes() == BODY
