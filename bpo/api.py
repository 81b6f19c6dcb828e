"""What the `bpo` command and the tests do to transitions, over a Temporal client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bpo.errors import BpoError as BpoError  # where callers have always found it
from models.constants import AUDIT_WRITTEN_UPDATE, NOTHING_WAITS, TRANSITION_ID, WORKFLOW_NAME, WRITTEN_LATER
from models.deliveries import Deliveries
from models.messages import StartTransition
from models.plan import Person, Plan
from models.status import TransitionStatus
from models.workstreams import MAX_PROGRAM_ID
from workflows.rules.refusals import RefusalKind
from workflows.search import SA_CLIENT, SA_HEALTH, SA_PHASE, SA_PROVIDER, SA_STATE

if TYPE_CHECKING:  # `bpo status` needs neither: a cold command imports only what it uses
    from models.commands import Command
    from models.signing import Signer

NO_KEY = "this transition would trust no key: set BPO_SIGNING_KEY (bpo keys new), or BPO_ALLOW_UNSIGNED=1 for a trial"


def unsigned_allowed() -> bool:
    """Whether ``BPO_ALLOW_UNSIGNED`` in the environment allows a transition that trusts no key."""
    return os.environ.get("BPO_ALLOW_UNSIGNED", "").strip().lower() in {"1", "true", "yes", "on"}


def transition_id_for(plan: Plan) -> str:
    """The id a plan runs under by default: its name as a slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", plan.name.lower()).strip("-")
    return slug[:200] or "transition"


def _check_id(transition_id: str) -> str:
    """``transition_id`` if it names a transition or a program's workstream (``PROGRAM/KEY``)."""
    if not re.fullmatch(TRANSITION_ID, transition_id):
        raise BpoError(
            f"'{transition_id[:80]}' is not a transition id: use letters, digits, '.', '_', ':' or '-', "
            "at most 200 characters (a workstream's: PROGRAM/KEY)"
        )
    return transition_id


async def start_transition(
    client: Client,
    plan: Plan,
    *,
    task_queue: str,
    transition_id: str | None = None,
    private: bool = False,
    trusted_keys: list[str] | None = None,
    replace_ended: bool = False,
    flush_after: timedelta | None = None,
    audit_linger: timedelta | None = None,
    signer: Signer | None = None,
    started_by: str | None = None,
    allow_unsigned: bool | None = None,
    signed_at: datetime | None = None,
) -> str:
    """Start a transition for ``plan``; refuses an id already in use, running or ended, unless
    ``replace_ended`` says to start again under the id of an ended one.

    ``private`` (payloads encrypted) leaves the client and provider out of the search
    attributes, which Temporal stores in clear. With ``trusted_keys``, every command sent to the
    transition must be signed by one of them, and so must the start: by ``signer``, whose key
    must be one of them. Without keys the start is refused unless ``allow_unsigned`` (default:
    ``BPO_ALLOW_UNSIGNED`` in the environment). ``started_by`` is kept in the audit trail and
    the status. ``flush_after`` and ``audit_linger`` are `Settings.flush_timing`. The start is
    signed at ``signed_at`` (default now): it must reach Temporal within minutes of it, so a test
    server whose clock was moved passes its own.
    """
    transition_id = _check_id(transition_id or transition_id_for(plan))
    if "/" in transition_id:
        raise BpoError(f"'{transition_id}' names a workstream, which its program starts; start the program instead")
    if plan.workstreams and len(transition_id) > MAX_PROGRAM_ID:
        raise BpoError(
            f"a program with workstreams has an id of at most {MAX_PROGRAM_ID} characters; "
            f"'{transition_id[:40]}...' has {len(transition_id)}: choose a shorter one with --id"
        )
    if not trusted_keys and not (unsigned_allowed() if allow_unsigned is None else allow_unsigned):
        raise BpoError(NO_KEY, kind=RefusalKind.NO_KEY)
    start = StartTransition(
        id=transition_id,
        plan=plan,
        trusted_keys=trusted_keys or [],
        flush_after=flush_after,
        audit_linger=audit_linger,
        started_by=started_by,
    )
    if trusted_keys:
        if signer is None or signer.public_key not in trusted_keys:
            raise BpoError(
                "the start must be signed by a key the transition trusts: set BPO_SIGNING_KEY to the private half "
                "of one of BPO_TRUSTED_KEYS",
                kind=RefusalKind.NO_KEY,
            )
        from models.signing import sign_start

        start = sign_start(signer, start, signed_at)
    named = (
        []
        if private
        else [
            SearchAttributePair(SA_CLIENT, plan.client[:100]),
            SearchAttributePair(SA_PROVIDER, plan.provider[:100]),
        ]
    )
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            start,
            id=transition_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if replace_ended
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    *named,
                    SearchAttributePair(SA_PHASE, plan.phases[0].key),
                    SearchAttributePair(SA_HEALTH, "on_track"),
                    SearchAttributePair(SA_STATE, "running"),
                ]
            ),
            static_summary=f"{plan.client} → {plan.provider}: {plan.name}"[:200],
            static_details=f"Transition plan **{plan.name}**: {len(plan.phases)} phases, "
            f"{sum(len(p.gates) for p in plan.phases)} gates, {len(plan.people)} people on the roster.",
        )
    except WorkflowAlreadyStartedError:
        running = await _is_running(client, transition_id)
        if replace_ended or running:
            raise BpoError(
                f"a transition with id '{transition_id}' already exists and is running; choose another id with "
                "--id (only an ended one can be replaced)",
                kind=RefusalKind.ALREADY_STARTED,
            ) from None
        raise BpoError(
            f"a transition with id '{transition_id}' already exists and has ended; choose another id with --id, "
            "or start it again on purpose with --replace-ended",
            kind=RefusalKind.ALREADY_STARTED,
        ) from None
    return transition_id


async def _is_running(client: Client, transition_id: str) -> bool:
    with contextlib.suppress(RPCError):
        return (await client.get_workflow_handle(transition_id).describe()).status == WorkflowExecutionStatus.RUNNING
    return False


def _handle(client: Client, transition_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(_check_id(transition_id))


def _translate(error: Exception, transition_id: str) -> BpoError:
    if isinstance(error, WorkflowUpdateFailedError) and isinstance(error.cause, ApplicationError):
        return BpoError(error.cause.message, kind=error.cause.type or RefusalKind.REFUSED)
    if isinstance(error, RPCError) and "completed" in error.message:
        return BpoError(f"transition '{transition_id}' has ended; it takes no more decisions", kind=RefusalKind.ENDED)
    if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
        return BpoError(
            f"no transition with id '{transition_id}'; 'bpo list' shows them", kind=RefusalKind.UNKNOWN_TRANSITION
        )
    return BpoError(f"Temporal could not be reached or failed: {error}", refused=False, kind=RefusalKind.UNAVAILABLE)


async def send(
    client: Client,
    transition_id: str,
    command: Command,
    signer: Signer | None = None,
    update_id: str | None = None,
    signed_at: datetime | None = None,
) -> TransitionStatus:
    """Send a command by the update its model names, signed by ``signer`` if given (at
    ``signed_at``, default now: a test server whose clock was moved passes its own); returns the
    status after it, or raises `BpoError`.

    A command without a request id gets ``update_id`` as one (a caller that retries with the
    same update id counts once), else a new one: a signed command needs one to count once.
    """
    handle = _handle(client, transition_id)
    if not command.request_id:
        command = command.model_copy(update={"request_id": update_id or f"api-{uuid.uuid4().hex}"})
    try:
        if signer is not None:
            command = signer.sign(transition_id, command, await _first_run(handle), signed_at)
        return await handle.execute_update(command.update, command, id=command.request_id, result_type=TransitionStatus)
    except (WorkflowUpdateFailedError, RPCError) as error:
        if isinstance(error, RPCError) and error.status == RPCStatusCode.NOT_FOUND:
            # Servers word an update to a closed workflow differently; ask whether it exists.
            with contextlib.suppress(RPCError):
                if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                    raise BpoError(
                        f"transition '{transition_id}' has ended; it takes no more decisions", kind=RefusalKind.ENDED
                    ) from None
        raise _translate(error, transition_id) from None


async def _first_run(handle: WorkflowHandle[Any, Any]) -> str:
    """The first run's id of the transition's latest run family: what a signature covers."""
    return (await handle.describe()).raw_description.workflow_execution_info.first_run_id


async def first_run(client: Client, transition_id: str) -> str:
    """The id of a transition's first run (the same across continue-as-new): what a signature
    for it covers."""
    try:
        return await _first_run(_handle(client, transition_id))
    except RPCError as error:
        raise _translate(error, transition_id) from None


async def get_plan(client: Client, transition_id: str) -> Plan:
    """The plan a transition runs."""
    try:
        return await _handle(client, transition_id).query("plan", result_type=Plan)
    except RPCError as error:
        raise _translate(error, transition_id) from None


async def get_status(client: Client, transition_id: str) -> TransitionStatus:
    """Where the transition stands, or raises `BpoError` for an unknown id."""
    try:
        return await _handle(client, transition_id).query("status", result_type=TransitionStatus)
    except RPCError as error:
        raise _translate(error, transition_id) from None


async def get_roster(client: Client, transition_id: str) -> list[Person]:
    """The people on a transition's roster now."""
    try:
        return list(await _handle(client, transition_id).query("roster", result_type=list[Person]))
    except RPCError as error:
        raise _translate(error, transition_id) from None


async def get_deliveries(client: Client, transition_id: str) -> Deliveries:
    """The notifications of a transition waiting for another try, and those given up."""
    try:
        return await _handle(client, transition_id).query("deliveries", result_type=Deliveries)
    except RPCError as error:
        raise _translate(error, transition_id) from None


SETTLE_AGAIN = 1.0
"""Seconds after which `audit_settled`, still waiting, asks the transition again to write what waits."""


async def audit_settled(client: Client, transition_id: str, wait: float) -> int:
    """Wait, at most ``wait`` seconds, until the audit entries the transition has accepted are in
    the audit table (entries alone may linger a few seconds for others, unless a reader asks);
    returns how many still wait. A transition the server does not know holds none."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    handle = _handle(client, transition_id)
    while (remaining := deadline - loop.time()) > 0:
        try:
            # Answered once a flush begun after it has ended; refused at once when nothing waits.
            update = handle.execute_update(AUDIT_WRITTEN_UPDATE, result_type=int)
            if not await asyncio.wait_for(update, max(remaining, 0.1)):
                return 0
        except WorkflowUpdateFailedError as failed:
            refused = failed.cause.type if isinstance(failed.cause, ApplicationError) else None
            if refused == NOTHING_WAITS:
                return 0
            if refused != WRITTEN_LATER:  # a worker from before the update
                return await _watched(client, transition_id, deadline, hurry=True)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            break
        except RPCError:  # it ended (a closed run still answers the query), or is unknown
            return await _watched(client, transition_id, deadline, hurry=True)
        # Some still waits (another reader's flush under way, or the database away): watched,
        # and asked again after a second.
        if not await _watched(client, transition_id, min(loop.time() + SETTLE_AGAIN, deadline)):
            return 0
    return await _watched(client, transition_id, loop.time())


async def _watched(client: Client, transition_id: str, until: float, hurry: bool = False) -> int:
    """How many audit entries still wait, asked each tenth of a second until none or ``until``;
    with ``hurry``, the ``settle_audit`` signal asks the transition each second to write them."""
    loop = asyncio.get_running_loop()
    asked: float | None = None
    try:
        while (left := (await get_deliveries(client, transition_id)).unwritten) and loop.time() < until:
            # A flush lingering for more entries goes now; asked again each second, as an entry
            # accepted after the flush asked for would linger its whole time.
            if hurry and (asked is None or loop.time() - asked >= SETTLE_AGAIN):
                asked = loop.time()
                with contextlib.suppress(RPCError):  # ended since: it writes nothing more
                    await _handle(client, transition_id).signal("settle_audit")
            await asyncio.sleep(min(0.1, max(until - loop.time(), 0)))
    except BpoError:
        return 0
    return left


async def get_options(client: Client, transition_id: str, person_id: str) -> dict[str, list[str]]:
    """The decisions ``person_id`` may take on each gate under way."""
    try:
        answer = await _handle(client, transition_id).query("options", person_id, result_type=dict[str, list[str]])
    except RPCError as error:
        raise _translate(error, transition_id) from None
    return dict(answer)


async def get_offered(client: Client, transition_id: str, person_id: str) -> dict[str, list[str]]:
    """The commands besides a gate's decisions ``person_id`` may send now, each with what they
    may aim it at ("" for the transition itself): `workflows.rules.offered`."""
    try:
        answer = await _handle(client, transition_id).query("offered", person_id, result_type=dict[str, list[str]])
    except RPCError as error:
        raise _translate(error, transition_id) from None
    return dict(answer)
