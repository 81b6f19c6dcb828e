"""Names that cross processes (worker, `bpo`, tests), defined once."""

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "bpo-transitions"
WORKFLOW_NAME = "Transition"

SA_PHASE = SearchAttributeKey.for_keyword("BpoPhase")
SA_HEALTH = SearchAttributeKey.for_keyword("BpoHealth")
SA_STATE = SearchAttributeKey.for_keyword("BpoState")
SA_CLIENT = SearchAttributeKey.for_keyword("BpoClient")
SA_PROVIDER = SearchAttributeKey.for_keyword("BpoProvider")
SEARCH_ATTRIBUTES = (SA_PHASE, SA_HEALTH, SA_STATE, SA_CLIENT, SA_PROVIDER)
"""Every custom search attribute the workflow sets; `bpo server` registers them all (Keyword)."""
