"""The worker's payload walks: the codec's alone, and none where there is no codec.

Before the worker runs a workflow activation, the SDK walks every payload in it three times (a
storage reference's codec, external storage, the payload codec), and walks every completion three
times again before it goes back: a generated visitor over the whole protobuf, with an ``await``
per field. Without external storage (this deployment never sets one), two of the three walks
change nothing: they only raise (``TMPRL1105``) on a payload shaped like a storage reference,
which fails the workflow task before the workflow can refuse the command it came with, and every
task after it, as the signal stays in the history. So here:
- with no codec (no ``BPO_ENCRYPTION_KEY``), nothing is walked. The walks were a tenth of the
  worker's Python time in the bench (docs/benchmarks.md, "The payload walks skipped"); the SDK
  names the same test (``DataConverter._decode_payload_has_effect``, "a temporary short-circuit");
- with a codec, only the codec's walk runs: every payload is still sealed and opened by it, and
  one in clear, whatever its metadata says, is refused by the codec, not by a failed task;
- with external storage, the SDK's own three walks run, unchanged.

The replaced functions are the SDK's module-level ones, looked up by the workflow worker at each
call. If a release changes their names or arguments, or the visitor they use, nothing is
replaced and the SDK's walks run (`tests/test_visiting.py` holds both ways).
"""

from __future__ import annotations

import inspect
from typing import Any

import temporalio.bridge.worker as bridge
import temporalio.worker._command_aware_visitor as visitors
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics

SHAPES = {
    "decode_activation": ["activation", "data_converter", "decode_headers", "storage_concurrency_limit"],
    "encode_completion": ["completion", "data_converter", "encode_headers", "storage_concurrency_limit"],
}
SDK: dict[str, Any] = {}
"""The SDK's own functions, once replaced."""


async def _codec_walk(message: Any, walk: Any, headers: bool) -> StorageOperationMetrics:
    visitor = visitors.CommandAwarePayloadVisitor(skip_search_attributes=True, skip_headers=not headers)
    await visitor.visit(bridge._Visitor(walk), message)
    return StorageOperationMetrics()  # what the SDK's walks report when they store nothing


async def decode_activation(
    activation: Any, data_converter: DataConverter, decode_headers: bool, storage_concurrency_limit: int
) -> StorageOperationMetrics:
    """Implements the SDK's `decode_activation`: the codec's walk alone, if there is a codec."""
    if data_converter.external_storage is not None:
        return await SDK["decode_activation"](activation, data_converter, decode_headers, storage_concurrency_limit)
    if data_converter.payload_codec is None:
        return StorageOperationMetrics()
    return await _codec_walk(activation, data_converter._decode_payload_sequence, decode_headers)


async def encode_completion(
    completion: Any, data_converter: DataConverter, encode_headers: bool, storage_concurrency_limit: int
) -> StorageOperationMetrics:
    """Implements the SDK's `encode_completion`: the codec's walk alone, if there is a codec."""
    if data_converter.external_storage is not None:
        return await SDK["encode_completion"](completion, data_converter, encode_headers, storage_concurrency_limit)
    if data_converter.payload_codec is None:
        return StorageOperationMetrics()
    return await _codec_walk(completion, data_converter._encode_payload_sequence, encode_headers)


OURS = {"decode_activation": decode_activation, "encode_completion": encode_completion}


def fits() -> bool:
    """Whether the SDK's functions, and the visitor they walk with, still have the shape the
    replacements take."""
    if not callable(getattr(bridge, "_Visitor", None)) or not callable(
        getattr(visitors, "CommandAwarePayloadVisitor", None)
    ):
        return False
    for name, params in SHAPES.items():
        function = getattr(bridge, name, None)
        if function is OURS[name]:
            function = SDK[name]
        if not callable(function) or list(inspect.signature(function).parameters) != params:
            return False
    return True


def install() -> bool:
    """Walk only what changes, in this process; once, and only where the SDK fits. True when the
    replacements are in place."""
    if not fits():
        return False
    for name, ours in OURS.items():
        if getattr(bridge, name) is not ours:
            SDK[name] = getattr(bridge, name)
            setattr(bridge, name, ours)
    return True
