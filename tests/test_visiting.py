"""The worker skips the SDK's walks over an activation's payloads when no codec would change them,
and keeps them where one does (an encrypting deployment: tests/test_encryption.py runs it whole);
an SDK whose functions changed shape keeps its own."""

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


def an_update(data: bytes) -> WorkflowActivation:
    activation = WorkflowActivation(run_id="r")
    update = activation.jobs.add().do_update
    update.name, update.id = "approve", "u1"
    update.input.add(metadata={"encoding": b"json/plain"}, data=data)
    return activation


async def test_payloads_no_codec_changes_are_not_walked_and_a_codec_still_sees_every_one():
    assert visiting.install() and visiting.install(), "installed, and once only"
    assert bridge.decode_activation.sdk is not bridge.decode_activation  # type: ignore[attr-defined]
    plain = an_update(b'{"BY":"LI"}')
    await bridge.decode_activation(plain, Watched(), False, 1)
    assert Watched.walked == [] and plain.jobs[0].do_update.input[0].data == b'{"BY":"LI"}'
    await bridge.decode_activation.sdk(plain, Watched(), False, 1)  # type: ignore[attr-defined]
    assert Watched.walked == [1], "the SDK's own walk hands the converter the update's input"
    sealed = an_update(b'{"BY":"LI"}')
    await bridge.decode_activation(sealed, with_codec(pydantic_data_converter, Shouting()), False, 1)
    assert sealed.jobs[0].do_update.input[0].data == b'{"by":"li"}', "the codec decoded the update's input"


def test_an_sdk_whose_functions_changed_shape_keeps_its_own(monkeypatch: pytest.MonkeyPatch):
    async def decode_activation(activation, data_converter, decode_headers):  # one argument fewer
        raise AssertionError("never called here")

    monkeypatch.setattr(bridge, "decode_activation", decode_activation)
    assert not visiting.fits() and not visiting.install()
    assert bridge.decode_activation is decode_activation
