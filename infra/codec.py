"""Encrypted payloads: plans, names and KPI values unreadable to whoever reads Temporal's database.

AES-256-GCM with a base64 32-byte key in ``BPO_ENCRYPTION_KEY``. Each payload carries the id of
the key that sealed it, so keys can rotate: put the new key in ``BPO_ENCRYPTION_KEY`` and the old
ones in ``BPO_ENCRYPTION_OLD_KEYS`` (comma-separated) until no running transition needs them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from infra.transport import is_loopback

ENCODING = b"binary/encrypted"
REFUSED = b"binary/bpo-plaintext-refused"
PLAINTEXT_REFUSED = (
    b"a payload arrived unencrypted and this process requires encryption (BPO_ENCRYPTION_REQUIRED): "
    b"send it from a client that holds BPO_ENCRYPTION_KEY"
)


def parse_key(text: str, what: str = "BPO_ENCRYPTION_KEY") -> bytes:
    """A key from its base64 text; raises ValueError, naming ``what``, unless it is 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64; make one with: openssl rand -base64 32") from None
    if len(key) != 32:
        raise ValueError(f"{what} must be 32 bytes once decoded, not {len(key)}")
    return key


def key_id(key: bytes) -> str:
    """A short public name for a key: it says which key sealed a payload, and nothing about it."""
    return hashlib.sha256(b"bpo-key-id:" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """Seals every payload with the current key; opens payloads sealed by any key it holds."""

    def __init__(self, current: bytes, older: Iterable[bytes] = (), required: bool = False) -> None:
        self.current_id = key_id(current)
        self.keys = {key_id(k): AESGCM(k) for k in (current, *older)}
        self.required = required
        """Refuse a payload that arrives unencrypted (``BPO_ENCRYPTION_REQUIRED``)."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seal each payload with the current key and a fresh nonce."""
        sealed = []
        for payload in payloads:
            nonce = os.urandom(12)
            cipher = self.keys[self.current_id].encrypt(nonce, payload.SerializeToString(), None)
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, "encryption-key-id": self.current_id.encode()},
                    data=nonce + cipher,
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Open payloads sealed with any known key; others pass through unchanged, unless
        encryption is required: then a payload in clear is refused."""
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                # Refused as a payload no converter reads, not by failing here: a decoding error
                # would fail the whole workflow task, and one stray command would jam the
                # transition; a value that does not convert fails only its own update, query or
                # signal, with this message.
                opened.append(
                    Payload(metadata={"encoding": REFUSED}, data=PLAINTEXT_REFUSED) if self.required else payload
                )
                continue
            kid = payload.metadata.get("encryption-key-id", b"").decode()
            aes = self.keys.get(kid)
            if aes is None:
                raise ValueError(f"payload sealed with key {kid}, which this process does not hold")
            plain = Payload()
            plain.ParseFromString(aes.decrypt(payload.data[:12], payload.data[12:], None))
            opened.append(plain)
        return opened


def codec_for(key: str | None, old_keys: str = "", required: bool = False) -> EncryptionCodec | None:
    """The codec for the settings ``BPO_ENCRYPTION_KEY`` (``key``), ``BPO_ENCRYPTION_OLD_KEYS``
    (``old_keys``, comma-separated) and ``BPO_ENCRYPTION_REQUIRED``, or None without a key."""
    current = (key or "").strip()
    if not current:
        return None
    older = [parse_key(k, "a key of BPO_ENCRYPTION_OLD_KEYS") for k in old_keys.split(",") if k.strip()]
    return EncryptionCodec(parse_key(current), older, required)


def with_codec(converter: DataConverter, codec: PayloadCodec | None) -> DataConverter:
    """``converter`` with ``codec`` applied to every payload, failure messages and stack traces
    included (unchanged when there is none)."""
    if codec is None:
        return converter
    return dataclasses.replace(
        converter, payload_codec=codec, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
    )


MAX_BODY = 8 * 1024 * 1024


def serve_codec(
    codec: EncryptionCodec,
    host: str,
    port: int,
    ui_origins: Sequence[str],
    *,
    token: str | None = None,
    allow_encode: bool = False,
    names: Sequence[str] = (),
) -> ThreadingHTTPServer:
    """An HTTP codec server (``POST /decode``, and ``POST /encode`` when ``allow_encode``) for the
    Web UI and the CLI.

    Whoever can call it reads every payload, so: with ``token``, every call needs
    ``Authorization: Bearer <token>`` (a server on another address than loopback must have one);
    the ``Host`` it is called by must be its own address or one of ``names`` (no DNS rebinding);
    only the given Web UI origins may call it from a browser (CORS); bodies are bounded.
    """
    if token is None and not is_loopback(host):
        raise ValueError("a codec server on an address other than loopback needs a token (BPO_CODEC_TOKEN)")
    hosts = {f"{name}:{port}" for name in (host, "localhost", "127.0.0.1", *names)}
    actions = ("decode", "encode") if allow_encode else ("decode",)

    class Handler(BaseHTTPRequestHandler):
        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin is not None and origin in ui_origins:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "content-type, x-namespace, authorization")
                self.send_header("Access-Control-Allow-Credentials", "true")

        def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's interface
            self.send_response(200)
            self._cors()
            self.end_headers()

        def _refuse(self, status: int, error: str) -> None:
            self.send_response(status)
            self._cors()
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"error": error}).encode())

        def do_POST(self) -> None:  # noqa: N802
            action = self.path.rstrip("/").rsplit("/", 1)[-1]
            if self.headers.get("Host") not in hosts:
                self._refuse(421, "this codec server does not answer to that host name")
                return
            if token is not None and not hmac.compare_digest(
                self.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
            ):
                self._refuse(401, "a bearer token is required")
                return
            if action not in actions:
                self._refuse(404, f"POST /{' or /'.join(actions)}")
                return
            length_text = self.headers.get("Content-Length", "")
            if not length_text.isdigit():
                self._refuse(411, "a Content-Length is required")
                return
            if int(length_text) > MAX_BODY:
                self._refuse(413, f"bodies are at most {MAX_BODY // 1024 // 1024} MiB")
                return
            try:
                body = json_format.Parse(self.rfile.read(int(length_text)), Payloads())
                run = codec.encode if action == "encode" else codec.decode
                result = Payloads(payloads=asyncio.run(run(list(body.payloads))))
                answer = json_format.MessageToJson(result).encode()
            except Exception:  # a bad request must not take the server down, nor learn our errors
                self._refuse(400, "the body is not payloads this server can decode")
                return
            self.send_response(200)
            self._cors()
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)
