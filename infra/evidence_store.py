"""Where pinned evidence is kept, by its SHA-256: a folder (the default, ``BPO_DATA_DIR/evidence``)
or an S3-compatible bucket (``BPO_EVIDENCE_STORE=s3://bucket/prefix``, through boto3, with
``BPO_EVIDENCE_S3_ENDPOINT`` for a store that is not AWS, and the usual ``AWS_*`` credentials)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol


class EvidenceStore(Protocol):
    """Keeps files by their SHA-256."""

    async def put(self, sha256: str, body: bytes, content_type: str) -> str:
        """Keep ``body``; its key in the store."""
        ...

    async def get(self, key: str) -> bytes | None:
        """What is kept under ``key``, or None."""
        ...


def key_for(sha256: str) -> str:
    """The key a file with this hash is kept under."""
    return f"sha256/{sha256[:2]}/{sha256}"


class FolderStore:
    """Evidence in a folder on the worker's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, sha256: str, body: bytes, content_type: str) -> str:
        """Write ``body`` once (a file with the same hash is the same file)."""
        key = key_for(sha256)
        path = self.root / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(body)
            partial.replace(path)
        return key

    async def get(self, key: str) -> bytes | None:
        """The file's bytes, or None."""
        path = self.root / key
        return path.read_bytes() if path.is_file() else None


class S3Store:
    """Evidence in an S3-compatible bucket."""

    def __init__(self, url: str, endpoint: str | None = None) -> None:
        import boto3  # only a worker that keeps evidence in a bucket loads it

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client: Any = boto3.client("s3", endpoint_url=endpoint)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, sha256: str, body: bytes, content_type: str) -> str:
        """Upload ``body`` with its type and hash."""
        key = key_for(sha256)
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._name(key),
            Body=body,
            ContentType=content_type or "application/octet-stream",
            Metadata={"sha256": sha256},
        )
        return key

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if there is none."""

        def read() -> bytes | None:
            try:
                return bytes(self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read())
            except self.client.exceptions.NoSuchKey:
                return None

        return await asyncio.to_thread(read)


def open_store(location: str, endpoint: str | None = None) -> EvidenceStore:
    """The store ``location`` names: ``s3://bucket/prefix``, or a folder."""
    if location.startswith("s3://"):
        return S3Store(location, endpoint)
    return FolderStore(Path(location))
