"""A worker for the bare yardstick workflow, as its own process (so its CPU is measured apart)."""

from __future__ import annotations

import asyncio
import os

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.bare import BareWorkflow


async def main() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], data_converter=pydantic_data_converter)
    async with Worker(client, task_queue="bare", workflows=[BareWorkflow]):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
