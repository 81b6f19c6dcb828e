"""`bpo server`: the embedded dev server listens where it is told and points its Web UI at the codec."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

from tests.stack import Stack


def test_bpo_server_listens_on_its_ip_and_gives_the_web_ui_its_codec_endpoint(tmp_path: Path):
    codec = "http://127.0.0.1:8081"
    s = Stack(tmp_path, ip="127.0.0.2")  # loopback, but not the address the server used to hard-code
    s.start_server("--codec-endpoint", codec)
    try:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", s.port)) != 0, "listening on 127.0.0.1 despite --ip"
        with urllib.request.urlopen(f"http://127.0.0.2:{s.ui_port}/api/v1/settings", timeout=30) as answer:
            settings = json.loads(answer.read())
        assert settings["Codec"]["Endpoint"] == codec
    finally:
        s.stop()
