"""The workflow's update handlers, one per command of the registry (`models.commands.COMMANDS`),
made here so that the workflow class writes out only those that do more (approve pins evidence)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.commands import COMMANDS, Command
    from models.status import TransitionStatus


def handles(command_type: type[Command]) -> Any:
    """The update handler of one command, with its validator, named by the command's model.

    The validator runs the rules' checks before the update is accepted, so a refused command
    leaves nothing in the history; the handler applies it and answers with the brief status.
    """

    def handler(self: Any, command: Command) -> TransitionStatus:
        return self._apply(command)

    def validator(self: Any, command: Command) -> None:
        self._check(command)

    # The SDK reads the argument's type from the annotations to decode the payload.
    handler.__annotations__ = {"command": command_type, "return": TransitionStatus}
    validator.__annotations__ = {"command": command_type, "return": None}
    handler.__name__ = handler.__qualname__ = command_type.update
    update = workflow.update(name=command_type.update, description=command_type.__doc__)(handler)
    update.validator(validator)
    return update


def with_handlers(cls: type[Any]) -> type[Any]:
    """One update handler per command of `models.commands.COMMANDS`, named by its update, except
    those the class writes out itself (approve, which first pins its evidence)."""
    for command_type in COMMANDS:
        if command_type.update not in vars(cls):
            setattr(cls, command_type.update, handles(command_type))
    return cls
