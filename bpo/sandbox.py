"""The sandbox the worker runs transitions in: the SDK's, with less work per payload.

The SDK's sandboxed instance reaches into the sandbox by ``exec`` of a source string
(``_Instance._run_code``): once to run an activation, and once more for each payload it encodes
or decodes, to ask the serialization context of the command the payload belongs to. ``exec`` of a
string compiles it first, some 20 µs each time, for the same half-dozen snippets, and a
transition's tasks run it hundreds of times: a tenth of the worker's Python time (docs/benchmarks.md,
"The sandbox's snippets compiled once"). Here they are compiled on first use and kept, and
``exec`` runs the code object; what runs, and what the sandbox refuses, is unchanged. And the
command a payload belongs to is asked of the workflow without entering the sandbox (below).

`_Instance` is the SDK's private class. If a release changes its shape (no ``_run_code``, or a
constructor that takes other arguments), the worker keeps the SDK's own runner rather than guess
(`tests/test_sandbox.py` holds both ways).
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions, _runner

# The sandbox still refuses the clock, randomness and I/O reached while a workflow runs (see
# tests/test_sandbox.py), but imports every module once for all transitions instead of afresh
# for each: our modules keep no state between calls, and a fresh import per transition was a
# third of the worker's CPU (docs/benchmarks.md). It also spares cryptography's Rust core, which
# panics when imported inside a sandbox.
RESTRICTIONS = SandboxRestrictions.default.with_passthrough_all_modules()


@functools.lru_cache(maxsize=64)
def _compiled(code: str) -> CodeType:
    """``code`` compiled as ``exec`` compiles a string (the SDK's snippets are a handful, fixed
    but for the workflow's class and module names)."""
    return compile(code, "<string>", "exec")


class _CompiledInstance(_runner._Instance):
    """The SDK's sandboxed instance, its snippets compiled once, and the serialization contexts
    asked of the workflow directly."""

    def _run_code(self, code: Any, **extra_globals: Any) -> None:
        # exec takes the code object as it takes the string (the SDK's annotation says str)
        super()._run_code(_compiled(code) if isinstance(code, str) else code, **extra_globals)  # type: ignore[arg-type]

    # Asked once for every payload the worker encodes or decodes, to learn which command it
    # belongs to. The SDK enters the sandbox (its import hook, its restricted builtins) for each
    # ask, but what answers is a lookup in the workflow's pending commands (`InSandbox` forwards it
    # unchanged) that imports nothing and reads no clock: asked directly, it answers the same.

    def get_serialization_context(self, command_info: Any) -> Any:
        """Implements `WorkflowInstance.get_serialization_context`."""
        if (inside := self._inside()) is None:
            return super().get_serialization_context(command_info)
        return inside.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        """Implements `WorkflowInstance.get_external_store_context`."""
        if (inside := self._inside()) is None:
            return super().get_external_store_context(command_info)
        return inside.get_external_store_context(command_info)

    def _inside(self) -> Any:
        """The SDK's `InSandbox` forwarder, once the instance has made it."""
        return self.globals_and_locals.get("__temporal_in_sandbox")


class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, creating `_CompiledInstance`s."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Implements `WorkflowRunner.create_instance`."""
        return _CompiledInstance(det, self.runner_class, self.restrictions)


def _fits(instance: type) -> bool:
    """Whether the SDK's private instance still has the shape `_CompiledInstance` relies on."""
    run_code, init = getattr(instance, "_run_code", None), getattr(instance, "__init__", None)
    return (
        callable(run_code)
        and run_code.__code__.co_varnames[:2] == ("self", "code")
        and callable(init)
        and init.__code__.co_varnames[:4] == ("self", "instance_details", "runner_class", "restrictions")
    )


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The runner the worker and the replays use: the compiled one where the SDK allows."""
    if _fits(_runner._Instance):
        return CompiledSandboxRunner(restrictions=RESTRICTIONS)
    return SandboxedWorkflowRunner(restrictions=RESTRICTIONS)


SANDBOX = sandbox_runner()
