"""The worker's payload passes: none where the SDK's would change nothing.

Before the worker runs a workflow activation, the SDK walks every payload in it three times (a
storage reference's codec, external storage, the payload codec), and walks every completion three
times again before it goes back: a generated visitor over the whole protobuf, with an ``await``
per field. With no payload codec and no external storage (a deployment without
``BPO_ENCRYPTION_KEY``), each of the six walks hands each payload back unchanged, yet they were
a tenth of the worker's Python time in the bench (docs/benchmarks.md, "The payload walks
skipped"). The SDK names the test itself (``DataConverter._decode_payload_has_effect``, "a
temporary short-circuit"); here the walks are skipped on it. With a codec or external storage,
the SDK's own functions run, unchanged.

The two functions are the SDK's module-level ones, looked up by the workflow worker at each call.
If a release changes their names or arguments, nothing is replaced and the SDK's walks run
(`tests/test_visiting.py` holds both ways).
"""

from __future__ import annotations

import inspect
from typing import Any

import temporalio.bridge.worker as bridge
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics

SHAPES = {
    "decode_activation": ["activation", "data_converter", "decode_headers", "storage_concurrency_limit"],
    "encode_completion": ["completion", "data_converter", "encode_headers", "storage_concurrency_limit"],
}


def walks_change_nothing(converter: DataConverter) -> bool:
    """Whether the SDK's walks would hand every payload back unchanged: no codec, no storage."""
    return converter.payload_codec is None and converter.external_storage is None


def _skipping(sdk: Any) -> Any:
    async def passes(message: Any, data_converter: DataConverter, *args: Any, **kwargs: Any) -> Any:
        if walks_change_nothing(data_converter):
            return StorageOperationMetrics()  # what the SDK's walks report when they store nothing
        return await sdk(message, data_converter, *args, **kwargs)

    passes.sdk = sdk  # type: ignore[attr-defined]
    passes.__name__, passes.__doc__ = sdk.__name__, sdk.__doc__
    return passes


def fits() -> bool:
    """Whether the SDK's functions still have the names and arguments the replacements take."""
    for name, params in SHAPES.items():
        function = getattr(bridge, name, None)
        if not callable(function) or list(inspect.signature(getattr(function, "sdk", function)).parameters) != params:
            return False
    return True


def install() -> bool:
    """Skip the walks that change nothing, in this process; once, and only where the SDK fits.
    True when the replacements are in place."""
    if not fits():
        return False
    for name in SHAPES:
        function = getattr(bridge, name)
        if not hasattr(function, "sdk"):
            setattr(bridge, name, _skipping(function))
    return True
