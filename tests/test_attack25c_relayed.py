"""Attack on relayed rows' signatures (issue 25, branch ``attack25c``): a workstream's audit row
may carry ``signed.transition`` naming its program (`infra.chain._signature_holds`), because the
program relays pause, resume, cancel, roster changes and key rotations (``RELAYED``). The check
takes any command signed for the program, though: a sponsor's approval of a program gate, copied
by whoever writes the table into a workstream's trail (where a flush under way is expected, or
in a trail rebuilt before its first head), stands there as a signed decision the workstream never
took, and `bpo audit --verify` counts its signature as holding."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from infra.audit import read_chain, write_entries
from infra.chain import verify_chain
from models.commands import Approve
from models.deliveries import AuditEntry
from models.signing import Signer, new_key_pair, signed_fields

AT = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)
WS = "prog/email"


def row(seq: int, kind: str, **fields: object) -> AuditEntry:
    return AuditEntry(id=f"{WS}/ab12cd34/{seq}", transition_id=WS, kind=kind, phase="build", at=AT, **fields)


def test_a_programs_approval_copied_into_a_workstreams_trail_is_not_a_signed_row_of_it(engine):
    private, public = new_key_pair()
    # The program's own signed approval of its gate (in the program's trail, readable to the DBA).
    approval = Signer(private).sign(
        "prog", Approve(gate="go_live", by="dana", request_id="r-9", via="web-oidc"), "prog-run"
    )
    copied = {"command": "approve", "fields": signed_fields(approval), "run": "prog-run", "transition": "prog"}
    started = row(1, "transition_started", detail={"trusted_keys": [public], "program": "prog"})
    forged = row(2, "approved", gate="go_live", actor="dana", via="web-oidc", signature=approval.signature,
                 detail={"signed": copied})  # fmt: skip
    with Session(engine) as session:
        write_entries([started, forged], session=session)
        verdict = verify_chain(read_chain(WS, session=session))
    assert verdict.problem is not None, (
        f"an approval signed for the program, never relayed (a program relays pause, resume, cancel, "
        f"roster and keys only), verified as {verdict.signed} signed decision of workstream {WS}"
    )
