"""Names that cross processes (worker, `bpo`, tests), defined once."""

import hashlib

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "bpo-transitions"
WORKFLOW_NAME = "Transition"

SA_PHASE = SearchAttributeKey.for_keyword("BpoPhase")
SA_HEALTH = SearchAttributeKey.for_keyword("BpoHealth")
SA_STATE = SearchAttributeKey.for_keyword("BpoState")
SA_CLIENT = SearchAttributeKey.for_keyword("BpoClient")
SA_PROVIDER = SearchAttributeKey.for_keyword("BpoProvider")
SA_AWAITING = SearchAttributeKey.for_keyword_list("BpoAwaiting")
"""The people the open gates wait on: each one's `login_key`, and ``key#gate`` for each gate."""
SA_PEOPLE = SearchAttributeKey.for_keyword_list("BpoPeople")
"""Everyone on the roster: each one's `login_key`, and ``key#role`` for each role held."""
SA_DUE = SearchAttributeKey.for_datetime("BpoDue")
"""When the phase under way falls due."""
SEARCH_ATTRIBUTES = (SA_PHASE, SA_HEALTH, SA_STATE, SA_CLIENT, SA_PROVIDER, SA_AWAITING, SA_PEOPLE, SA_DUE)
"""Every custom search attribute the workflow sets; `bpo server` registers them all."""
EPOCH_MEMO = "bpo_rules_epoch"
"""The memo in which each run records the rules epoch it was begun under (`bpo versions`)."""


def login_key(login: str) -> str:
    """How a person appears in search attributes: a digest of their address, since Temporal keeps
    search attributes in clear even when payloads are encrypted."""
    return "p-" + hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
