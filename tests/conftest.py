"""Fixtures shared by the workflow tests: a time-skipping server and a worker per test (the real
dev server where that one falls short)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bpo.running import build_worker
from bpo.server import register_search_attributes
from infra.binaries import find_binary
from infra.logs import configure
from infra.settings import Settings
from models.plan import Plan
from models.plan_loader import load_plan

# Tests start transitions that trust no key on purpose; a deployment would not (bpo.api.NO_KEY).
os.environ.setdefault("BPO_ALLOW_UNSIGNED", "1")

ROOT = Path(__file__).resolve().parent.parent
configure("console", "warning")
REFERENCE_PLAN = ROOT / "examples" / "reference-plan.yaml"


@pytest.fixture(scope="session")
def reference_plan() -> Plan:
    return load_plan(REFERENCE_PLAN, env={}).plan


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # One server per test: a clock shared between tests is held back by the timers and
    # activities that earlier tests leave behind.
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=find_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(environment.client)
    async with environment:
        yield environment


@pytest.fixture
async def dev() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server, the real one, for what the time-skipping server does not keep
    (schedules) or gets wrong: a run that continues as new while signals cross it was seen to
    leave its history without an end and its next run's tasks unanswered (2026-12-05)."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=find_binary("temporal")
    )
    await register_search_attributes(environment.client)
    async with environment:
        yield environment


@contextlib.asynccontextmanager
async def running_worker(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    """A worker of ``settings`` on ``env``, as the `worker` fixture runs one."""
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with httpx.AsyncClient() as http, build_worker(env.client, settings, http, executor) as running:
            yield running


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The audit written in the worker's threads: a writing process per test's worker costs a start.
    return Settings(BPO_DATA_DIR=tmp_path, BPO_TASK_QUEUE=f"tq-{uuid.uuid4()}", BPO_AUDIT_WRITER_PROCESSES=0)


@pytest.fixture
async def worker(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(env, settings) as running:
        yield running


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
async def launch(env: WorkflowEnvironment, worker: Worker, settings: Settings):
    """Start transitions of any plan on this test's own time-skipping server."""
    from tests.driver import Driver

    started: list[Driver] = []

    async def start(plan: Plan) -> Driver:
        driver = await Driver.start(env, plan, settings.task_queue)
        started.append(driver)
        return driver

    return start


@pytest.fixture
async def t(launch, reference_plan: Plan):
    """A transition of the reference plan, just started."""
    return await launch(reference_plan)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL database for the whole session."""
    from tests.pg import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """The audit store on SQLite and on a real PostgreSQL server, each migrated by Alembic."""
    from infra.db import make_engine

    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/audit.db")
    engine = make_engine(request.getfixturevalue("postgres_url"))
    with engine.begin() as connection:  # one database for the session: start each test empty
        connection.exec_driver_sql("DELETE FROM audit_record")
        connection.exec_driver_sql("DELETE FROM audit_head")
        connection.exec_driver_sql("DELETE FROM analytics_projection")  # folded from the rows just gone
        connection.exec_driver_sql("DELETE FROM signin_link")  # mail mints links: count each test's own
        # A digest chosen by one test must not hold another's mail.
        connection.exec_driver_sql("DELETE FROM digest_preference")
        connection.exec_driver_sql("DELETE FROM digest_item")
        connection.exec_driver_sql("DELETE FROM plan_names")
    return engine


@pytest.fixture
def hook():
    """A real HTTP server on 127.0.0.1 that receives webhooks."""
    from tests.receivers import webhook_receiver

    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def stack(request, tmp_path: Path, hook):
    """A real dev server and worker in their own data folder, webhooks going to ``hook``; the
    audit trail on PostgreSQL when the test asks for ``audit_url`` and it names one."""
    from tests.stack import Stack

    extra = {"BPO_WEBHOOK_URL": hook[0]}
    if "audit_url" in request.fixturenames and request.getfixturevalue("audit_url"):
        extra["DATABASE_URL"] = request.getfixturevalue("audit_url")
    running = Stack(tmp_path, extra)
    running.start_server()
    running.start_worker()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Selenium through Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.stack import ROOT

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    (ROOT / "test-output").mkdir(exist_ok=True)
    yield driver
    driver.quit()
