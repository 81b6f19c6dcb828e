"""Connecting to Temporal, the same way from the worker, `bpo` and the tests."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
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


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client for the configured cluster, carrying payloads with the pydantic converter."""
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=tls,
        api_key=settings.temporal_api_key,
        runtime=runtime,
    )
