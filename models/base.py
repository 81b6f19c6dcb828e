"""The bases of every model: what people write (plans, connections of a plan: unknown keys
refused, keys added later left out of a dump while at their default), and what the workflow
carries from run to run (`Message`: unknown keys ignored)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


class Strict(BaseModel):
    """Unknown keys are refused: a misspelt key would otherwise be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Grown(Strict):
    """A model that gained keys after plans were first signed (an amendment carries its plan in a
    signed command): a later key at its default is left out of a dump, so the dump, and with it
    every signature made before the key existed, stays as it was."""

    _later: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _without_later_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        for name in self._later:
            if getattr(self, name) == type(self).model_fields[name].default:
                data.pop(name, None)
        return data


class Message(BaseModel):
    """Base of what the workflow carries from run to run and reports: fields it does not know
    are ignored, so a worker rolled back, or one not yet upgraded, still reads what a newer one
    wrote. (Commands and plans, which people write, refuse unknown fields instead.)"""

    model_config = ConfigDict(extra="ignore")
