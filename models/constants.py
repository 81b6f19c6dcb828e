"""Names that cross processes (worker, `bpo`, tests), defined once.

Plain strings only, so that the rules and the models import without Temporal's SDK; the search
attributes as Temporal's typed keys are built from these names in `workflows.search`.
"""

import hashlib

TASK_QUEUE = "bpo-transitions"
WORKFLOW_NAME = "Transition"
TRANSITION_ID = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}(/[a-z0-9_]{1,40})?"
"""The form of a transition's id, or of a program's workstream's (``PROGRAM/KEY``): checked by
`bpo.api` and, before anything is asked of a server, by the command line."""

PHASE_ATTRIBUTE = "BpoPhase"
HEALTH_ATTRIBUTE = "BpoHealth"
STATE_ATTRIBUTE = "BpoState"
CLIENT_ATTRIBUTE = "BpoClient"
PROVIDER_ATTRIBUTE = "BpoProvider"
AWAITING_ATTRIBUTE = "BpoAwaiting"
"""The people the open gates wait on: each one's `login_key`, and ``key#gate`` for each gate."""
PEOPLE_ATTRIBUTE = "BpoPeople"
"""Everyone on the roster: each one's `login_key`, and ``key#role`` for each role held."""
PROGRAM_ATTRIBUTE = "BpoProgram"
"""A workstream's program: ``BpoProgram = 'ID'`` lists a program's workstreams."""
DUE_ATTRIBUTE = "BpoDue"
"""When the phase under way falls due."""
AUDIT_WRITTEN_UPDATE = "audit_written"
"""The update a reader of a trail sends to have what waits written, answered once it is."""
NOTHING_WAITS = "NothingWaits"
"""The type of the error that refuses `AUDIT_WRITTEN_UPDATE` when every entry is written."""
WRITTEN_LATER = "WrittenLater"
"""The type of the error that refuses it while asking would hurry nothing: what waits goes only at
the audit database's next try, or another reader already waits for the flush (watch the
``deliveries`` query, and ask again later)."""
EPOCH_MEMO = "bpo_rules_epoch"
"""The memo in which each run records the rules epoch it was begun under (`bpo versions`)."""


def login_key(login: str) -> str:
    """How a person appears in search attributes: a digest of their address, since Temporal keeps
    search attributes in clear even when payloads are encrypted."""
    return "p-" + hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
