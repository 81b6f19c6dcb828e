"""Refusal kinds are one vocabulary: every kind raised anywhere is a `RefusalKind`, and each
answers with the HTTP status and the command-line hint it always has (the web app and `bpo` read
them from the enum, and running transitions carry the names)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bpo.commands.common import with_hint
from bpo.errors import BpoError
from workflows.rules.refusals import RefusalKind, Refused

ROOT = Path(__file__).resolve().parent.parent.parent

# What bpo/web/api.py and bpo/commands/common.py answered before the kinds were an enum.
STATUS_BEFORE = {"BadInput": 422, "UnknownTransition": 404, "Unavailable": 503}
HINTS_BEFORE = {
    "EvidenceRequired": "add --evidence REF, a link or a reference to what backs the approval; "
    "a scorecard takes one per criterion that needs it: --evidence CRITERION=REF",
    "WrongGateKind": "approve approval gates; tick a checklist's items with 'bpo tick {id} GATE ITEM'; "
    "a KPI gate passes on readings ('bpo kpi {id} --period LABEL METRIC=VALUE'); "
    "score a scorecard's criteria with 'bpo score {id} GATE --scores CRITERION=SCORE...'",
    "Paused": "resume it first: 'bpo resume {id} --by PERSON'",
    "NotSigned": "this transition trusts signed commands only: set BPO_SIGNING_KEY to a key it trusts",
    "NotAllowed": "'bpo status {id}' shows whom each gate waits for",
    "GateNotOpen": "'bpo status {id}' shows the gates of the phase under way",
    "AlreadyRecorded": "to replace it: 'bpo kpi {id} --period LABEL METRIC=VALUE --by PERSON --correct --reason TEXT'",
    "EvidenceRefused": "give a link to a document, sheet, image or mail that this machine's worker can fetch, "
    "or a reference such as a document number",
    "NothingToPull": "'bpo feed {id}' shows each feed's next period and what has no data yet",
    "RefusedBefore": "run the command again without --request-id: each attempt gets a new request id",
}


def raised_kinds() -> list[tuple[str, ast.expr]]:
    """Every kind given to `Refused`, to `BpoError` or as an `ApplicationError`'s type in the
    workflow, with where: each a string or a ``RefusalKind.MEMBER``."""
    found = []
    files = [*ROOT.glob("workflows/**/*.py"), *ROOT.glob("bpo/**/*.py"), ROOT / "starter.py", ROOT / "worker.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name | ast.Attribute):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name == "Refused" and path.parts[-2:] != ("activities", "fetching.py"):
                kind = (
                    node.args[1]
                    if len(node.args) > 1
                    else next((k.value for k in node.keywords if k.arg == "kind"), None)
                )
                assert kind is not None, f"{where}: a refusal names its kind"
                found.append((where, kind))
            elif name == "BpoError":
                found += [(where, k.value) for k in node.keywords if k.arg == "kind"]
            elif name == "ApplicationError" and path.is_relative_to(ROOT / "workflows"):
                found += [(where, k.value) for k in node.keywords if k.arg == "type"]
    return found


def _name(where: str, kind: ast.expr) -> str | None:
    if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
        return kind.value
    if isinstance(kind, ast.Attribute) and isinstance(kind.value, ast.Name) and kind.value.id == "RefusalKind":
        return RefusalKind[kind.attr].value
    return None  # worked out at run time, as the kind a workflow's failure came back with


def test_every_kind_raised_anywhere_is_a_refusal_kind():
    found = raised_kinds()
    assert len(found) > 70  # the scan sees the raise sites, so the check below means something
    names = {where: _name(where, kind) for where, kind in found}
    assert [f"{w}: {n}" for w, n in names.items() if n is not None and n not in set(RefusalKind)] == []
    # and the rules raise only by the enum, never by a loose string
    loose = [w for w, kind in found if w.startswith("workflows/rules/") and not isinstance(kind, ast.Attribute)]
    assert loose == []


def test_every_declared_kind_is_raised_somewhere():
    raised = {_name(w, k) for w, k in raised_kinds()}
    assert set(RefusalKind) - raised == {RefusalKind.REFUSED} or set(RefusalKind) - raised == set()


def test_http_statuses_are_what_the_web_api_answered_before():
    assert {k.value: k.status for k in RefusalKind if k.status != 409} == STATUS_BEFORE
    assert RefusalKind.of("NotAllowed").status == 409
    assert RefusalKind.of("SomethingNewer").status == 409  # a newer worker's kind is a conflict still


def test_cli_hints_are_what_the_command_line_added_before():
    assert {k.value: k.hint for k in RefusalKind if k.hint} == HINTS_BEFORE
    assert with_hint("gate 'g' is paused", "Paused", "t-1") == (
        "gate 'g' is paused\nhint: resume it first: 'bpo resume t-1 --by PERSON'"
    )
    assert with_hint("no such thing", "UnknownGate") == "no such thing"


@pytest.mark.parametrize("kind", list(RefusalKind))
def test_a_kind_reads_as_the_name_running_transitions_carry(kind):
    refusal = Refused("no", kind)
    assert refusal.kind == kind.value and f"{refusal.kind}" == kind.value and str(kind) == kind.value
    assert RefusalKind.of(kind.value) is kind
    assert BpoError("no", kind=kind).kind == kind.value
