"""`bpo audit --verify` says plainly when a transition trusts no key: the real dev server, worker
and `bpo` command. Its chain may hold, but an unsigned row is not proven to be its signer's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpo.commands.verifying import KEYLESS
from models.signing import new_key_pair
from tests.stack import LI, Stack, short_plan


@pytest.mark.e2e
def test_verify_says_plainly_when_a_transition_trusts_no_key_in_text_and_json(tmp_path: Path):
    s = Stack(tmp_path)  # a test stack: BPO_ALLOW_UNSIGNED=1, no signing key
    s.start_server()
    s.start_worker()
    try:
        unsigned = s.ok("start", str(short_plan(tmp_path)), "--id", "unsigned").strip()
        s.ok("approve", unsigned, "gap_analysis_approved", "--by", LI)
        said = s.bpo("audit", unsigned, "--verify")
        assert said.returncode == 0, said.stdout + said.stderr
        assert "verified" in said.stdout and KEYLESS in said.stdout
        verdict = json.loads(s.ok("audit", unsigned, "--verify", "--json"))
        assert (verdict["verified"], verdict["trusts_keys"], verdict["notes"]) == (True, False, [KEYLESS])
        assert verdict["signatures"] == 0 and verdict["rows"] >= 2

        s.env["BPO_SIGNING_KEY"] = new_key_pair()[0]
        signed = s.ok("start", str(short_plan(tmp_path)), "--id", "signed").strip()
        s.ok("approve", signed, "gap_analysis_approved", "--by", LI)
        said = s.ok("audit", signed, "--verify")
        assert "signatures hold" in said and "trusts no key" not in said
        verdict = json.loads(s.ok("audit", signed, "--verify", "--json"))
        assert (verdict["verified"], verdict["trusts_keys"], verdict["notes"]) == (True, True, [])
    finally:
        s.stop()
