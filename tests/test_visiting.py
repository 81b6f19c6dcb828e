"""The worker walks an activation's payloads only where a walk changes them: not at all without a
codec, the codec's walk alone with one (an encrypting deployment: tests/test_encryption.py runs it
whole); a payload shaped like an external-storage reference jams nothing; an SDK whose functions
changed shape keeps its own."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import temporalio.bridge.worker as bridge
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from bpo import visiting
from infra.codec import with_codec

REFERENCE = {"encoding": b"json/plain", "__temporal_external_storage_reference": b"true"}
"""What an external-storage reference carries: the SDK's walks fail a task on it without storage."""


class Shouting(PayloadCodec):
    """A codec anyone can read: upper case on the way out, lower case on the way in."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data.upper()) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=p.metadata, data=p.data.lower()) for p in payloads]


class Watched(DataConverter):
    """The SDK's converter with no codec, counting the payloads its walks hand it."""

    walked: list[int] = []

    async def _decode_payload_sequence(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.walked.append(len(payloads))
        return await super()._decode_payload_sequence(payloads)


def an_update(data: bytes, metadata: dict[str, bytes] | None = None) -> WorkflowActivation:
    activation = WorkflowActivation(run_id="r")
    update = activation.jobs.add().do_update
    update.name, update.id = "approve", "u1"
    update.input.add(metadata=metadata or {"encoding": b"json/plain"}, data=data)
    return activation


async def test_payloads_no_codec_changes_are_not_walked_and_a_codec_still_sees_every_one():
    assert visiting.install() and visiting.install(), "installed, and once only"
    assert bridge.decode_activation is visiting.decode_activation
    plain = an_update(b'{"BY":"LI"}')
    await bridge.decode_activation(plain, Watched(), False, 1)
    assert Watched.walked == [] and plain.jobs[0].do_update.input[0].data == b'{"BY":"LI"}'
    await visiting.SDK["decode_activation"](plain, Watched(), False, 1)
    assert Watched.walked == [1], "the SDK's own walk hands the converter the update's input"
    sealed = an_update(b'{"BY":"LI"}')
    await bridge.decode_activation(sealed, with_codec(pydantic_data_converter, Shouting()), False, 1)
    assert sealed.jobs[0].do_update.input[0].data == b'{"by":"li"}', "the codec decoded the update's input"


async def test_a_payload_shaped_like_a_storage_reference_goes_to_the_codec_not_to_a_failed_task():
    visiting.install()
    for converter in (pydantic_data_converter, with_codec(pydantic_data_converter, Shouting())):
        stray = an_update(b'{"BY":"LI"}', REFERENCE)
        with pytest.raises(RuntimeError, match="TMPRL1105"):  # what failed every task after it
            await visiting.SDK["decode_activation"](stray, converter, False, 1)
        await bridge.decode_activation(stray, converter, False, 1)  # the workflow refuses it
    assert stray.jobs[0].do_update.input[0].data == b'{"by":"li"}'


def test_an_sdk_whose_functions_changed_shape_keeps_its_own(monkeypatch: pytest.MonkeyPatch):
    async def decode_activation(activation, data_converter, decode_headers):  # one argument fewer
        raise AssertionError("never called here")

    monkeypatch.setattr(bridge, "decode_activation", decode_activation)
    assert not visiting.fits() and not visiting.install()
    assert bridge.decode_activation is decode_activation
