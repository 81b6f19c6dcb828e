"""Connecting to Temporal, the same way from the worker, `bpo` and the tests."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from infra.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter, with payload encryption when ``BPO_ENCRYPTION_KEY`` is set."""
    if not settings.encryption_key:  # no codec to load: a cold command starts faster
        return pydantic_data_converter
    from infra.codec import codec_for, with_codec

    codec = codec_for(settings.encryption_key, settings.encryption_old_keys, settings.encryption_required)
    return with_codec(pydantic_data_converter, codec)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as the settings ask: a client certificate (mTLS), a private CA, a server name, or
    plain TLS for an API key (Temporal Cloud); False when none of them is set."""
    cert, key, ca = settings.temporal_tls_cert, settings.temporal_tls_key, settings.temporal_tls_ca
    if not (cert or ca or settings.temporal_tls_server_name):
        return bool(settings.temporal_api_key)
    return TLSConfig(  # the settings checked that each file is there
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=settings.temporal_tls_server_name,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
    )


class Unreachable(Exception):
    """The cluster could not be reached; the message is the SDK's, for `bpo.commands.common.unreachable`
    to say why in words."""


async def connect(
    settings: Settings, runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """A client for the configured cluster, carrying payloads with the pydantic converter (and
    ``interceptors``, which a worker built on it takes too: the bench's tracing)."""
    tls, converter = tls_config(settings), data_converter(settings)  # ours to fail, not the server's
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=converter,
            tls=tls,
            api_key=settings.temporal_api_key,
            runtime=runtime,
            interceptors=interceptors,
        )
    except Exception as exc:  # the SDK says so with a RuntimeError and its transport's words
        raise Unreachable(str(exc)) from exc

