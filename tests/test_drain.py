"""Nothing the outbox holds is dropped when a run ends: a delivery that fails after the outbox
emptied is still audited before the workflow continues as new."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from sqlmodel import Session

from bpo.running import build_worker
from infra.audit import read_trail
from infra.db import make_engine
from models.commands import RecordReadings
from tests.driver import LI, Driver


class SlowRefusal(BaseHTTPRequestHandler):
    """Takes its time, then refuses for good: the delivery is still in flight when the run drains."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(1.5 if body["kind"] == "settlement" else 0)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


async def test_a_delivery_failing_while_the_run_drains_is_audited_before_it_continues_as_new(
    env, settings, reference_plan
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowRefusal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with ThreadPoolExecutor(4) as executor:
            async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor):
                t = await Driver.start(env, reference_plan, settings.task_queue)
                await t.reach("steady_state")
                await t.do(RecordReadings(period="M1", values={"csat": 90.0}, by=LI))
                await t.sleep(days=31)  # the first period settles; the run continues as new
                engine = make_engine(settings.audit_url)
                for _ in range(100):
                    with Session(engine) as session:
                        trail = read_trail(t.id, session=session)
                    settlement = next((r for r in trail if r.kind == "settlement"), None)
                    failed = [r.detail["notice"] for r in trail if r.kind == "notification_failed"]
                    if settlement and (await t.status()).runs > 1 and failed:
                        break
                    await asyncio.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()
    notices = {r.detail.get("notice") for r in trail if r.kind == "notification_sent" and r.detail["about"] == "settlement"}
    assert notices, "the settlement notice went out on the log channel"
    assert notices <= set(failed), f"the webhook's failure for {notices} was never audited: {failed}"
