"""TLS to Temporal for real: `bpo` through Debian's nginx (TLS, HTTP/2, ``grpc_pass``) in front of the
dev server, with a CA, a server certificate and a client certificate made by the test.

The proxy's certificate names only ``temporal.bpo.test`` and chains to a private CA, so every
connection below needs ``TEMPORAL_TLS_CA`` and ``TEMPORAL_TLS_SERVER_NAME``; its mTLS port refuses
a client without a certificate, its API-key port a call without the key, and both refuse
``AddSearchAttributes`` as Temporal Cloud does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.binaries import find_binary
from tests.stack import BPO, REFERENCE_PLAN, ROOT, free_port, wait_until
from tests.tls_proxy import API_KEY, SERVER_NAME, Proxy, start_proxy
from workflows.search import SEARCH_ATTRIBUTES

CLOUDLIKE = "cloudlike"
"""A namespace without the engine's search attributes, where `bpo setup` meets the refusal."""


class Cluster:
    """The dev server, the proxy in front of it, and a way to run `bpo` against either."""

    def __init__(self, folder: Path, server_port: int, proxy: Proxy) -> None:
        self.folder, self.server_port, self.proxy = folder, server_port, proxy

    def bpo(self, *args: str, **settings: str | Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BPO_", "DATABASE_URL"))}
        env |= {"BPO_DATA_DIR": str(self.folder / "data"), "BPO_TASK_QUEUE": "tls", "BPO_ALLOW_UNSIGNED": "1"}
        env |= {name: str(value) for name, value in settings.items()}
        return subprocess.run([*BPO, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)

    def mtls(self, **more: str | Path) -> dict[str, str | Path]:
        """Settings for the mTLS port: the private CA, the server's name, the client certificate."""
        return {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.proxy.mtls_port}",
            "TEMPORAL_TLS_CA": self.proxy.ca,
            "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
            "TEMPORAL_TLS_CERT": self.proxy.client_cert,
            "TEMPORAL_TLS_KEY": self.proxy.client_key,
        } | more


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("tls")
    port = free_port()
    # Temporal's own dev server, without the engine's search attributes (`bpo server` registers
    # them at start, a real cluster does not).
    server = subprocess.Popen(
        [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--db-filename",
            str(folder / "temporal.db"),
            "--namespace",
            CLOUDLIKE,
            "--log-level",
            "warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy: Proxy | None = None
    try:
        proxy = start_proxy(folder, port)
        c = Cluster(folder, port, proxy)
        # The default namespace gets them straight from the server, as its operator would.
        wait_until(lambda: c.bpo("setup", TEMPORAL_ADDRESS=f"127.0.0.1:{port}").returncode == 0, timeout=60)
        yield c
    finally:
        if proxy:
            proxy.stop()
        server.terminate()
        server.wait(timeout=30)


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "tonic::" not in done.stderr, done.stderr


def test_a_client_certificate_of_the_private_ca_reaches_the_cluster_and_starts_a_transition(cluster: Cluster):
    started = cluster.bpo("start", str(REFERENCE_PLAN), **cluster.mtls())
    assert started.returncode == 0, started.stderr
    transition = started.stdout.strip()
    listed = cluster.bpo("list", **cluster.mtls())
    assert listed.returncode == 0, listed.stderr
    assert transition in listed.stdout


def test_without_a_client_certificate_the_proxy_refuses_in_one_sentence(cluster: Cluster):
    settings = cluster.mtls()
    del settings["TEMPORAL_TLS_CERT"], settings["TEMPORAL_TLS_KEY"]
    done = cluster.bpo("list", **settings)
    assert done.returncode == 1
    assert f"cannot reach Temporal at 127.0.0.1:{cluster.proxy.mtls_port}" in done.stderr
    assert "refused the credentials" in done.stderr
    _no_traceback(done)


def test_a_server_whose_certificate_the_given_ca_did_not_sign_is_refused(cluster: Cluster):
    done = cluster.bpo("list", **cluster.mtls(TEMPORAL_TLS_CA=cluster.proxy.stranger_ca))
    assert done.returncode == 1
    assert "TLS handshake failed" in done.stderr and "TEMPORAL_TLS_CA" in done.stderr
    _no_traceback(done)


def test_the_server_name_setting_is_what_the_certificate_is_checked_against(cluster: Cluster):
    settings = cluster.mtls()
    del settings["TEMPORAL_TLS_SERVER_NAME"]  # the certificate does not name 127.0.0.1
    done = cluster.bpo("list", **settings)
    assert done.returncode == 1 and "TLS handshake failed" in done.stderr
    wrong = cluster.bpo("list", **cluster.mtls(TEMPORAL_TLS_SERVER_NAME="other.bpo.test"))
    assert wrong.returncode == 1 and "TLS handshake failed" in wrong.stderr


def test_an_api_key_over_tls_to_a_private_ca_is_let_through_and_a_wrong_one_is_not(cluster: Cluster):
    settings: dict[str, str | Path] = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{cluster.proxy.api_key_port}",
        "TEMPORAL_TLS_CA": cluster.proxy.ca,
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }
    ok = cluster.bpo("list", TEMPORAL_API_KEY=API_KEY, **settings)
    assert ok.returncode == 0, ok.stderr
    refused = cluster.bpo("list", TEMPORAL_API_KEY="not-the-key", **settings)
    assert refused.returncode == 1 and "refused the credentials" in refused.stderr
    _no_traceback(refused)


def test_setup_on_a_cluster_that_refuses_search_attributes_says_what_to_run_instead(cluster: Cluster):
    done = cluster.bpo("setup", **cluster.mtls(TEMPORAL_NAMESPACE=CLOUDLIKE))
    assert done.returncode == 1, done.stdout + done.stderr
    for key in SEARCH_ATTRIBUTES:
        assert (
            f'tcld namespace search-attributes add --namespace {CLOUDLIKE} --search-attribute "{key.name}={key._metadata_type}"'
            in done.stderr
        )
    assert "search attributes are managed by the account" in done.stderr
    _no_traceback(done)
    # What it says to run on a self-hosted cluster works: `bpo setup` then finds them all.
    address = f"127.0.0.1:{cluster.server_port}"
    for line in done.stderr.splitlines():
        if line.strip().startswith("temporal operator search-attribute create"):
            words = line.split()[1:]
            subprocess.run([find_binary("temporal"), *words, "--address", address], check=True, capture_output=True)
    again = cluster.bpo("setup", **cluster.mtls(TEMPORAL_NAMESPACE=CLOUDLIKE))
    assert again.returncode == 0, again.stderr
    assert "added none" in again.stdout


def test_tls_settings_that_cannot_work_stop_every_command_naming_them(tmp_path: Path):
    cert = tmp_path / "client.crt"
    cert.write_text("not used")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BPO_"))}
    for settings, words in (
        ({"TEMPORAL_TLS_CERT": str(cert)}, "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"),
        ({"TEMPORAL_TLS_CA": str(tmp_path / "nowhere.pem")}, "TEMPORAL_TLS_CA"),
        ({"TEMPORAL_TLS_SERVER_NAME": "has space"}, "TEMPORAL_TLS_SERVER_NAME"),
    ):
        done = subprocess.run(
            [*BPO, "config"], env=base | settings, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 2, (settings, done.stderr)
        assert words in done.stderr
        _no_traceback(done)
