"""The transition's custom search attributes as Temporal's typed keys: the workflow sets them,
`bpo server` registers them, `bpo list` and the web app query them. Their names are in
`models.constants`, which stays free of the SDK."""

from temporalio.common import SearchAttributeKey

from models.constants import (
    AWAITING_ATTRIBUTE,
    CLIENT_ATTRIBUTE,
    DUE_ATTRIBUTE,
    HEALTH_ATTRIBUTE,
    PEOPLE_ATTRIBUTE,
    PHASE_ATTRIBUTE,
    PROGRAM_ATTRIBUTE,
    PROVIDER_ATTRIBUTE,
    STATE_ATTRIBUTE,
)

SA_PHASE = SearchAttributeKey.for_keyword(PHASE_ATTRIBUTE)
SA_HEALTH = SearchAttributeKey.for_keyword(HEALTH_ATTRIBUTE)
SA_STATE = SearchAttributeKey.for_keyword(STATE_ATTRIBUTE)
SA_CLIENT = SearchAttributeKey.for_keyword(CLIENT_ATTRIBUTE)
SA_PROVIDER = SearchAttributeKey.for_keyword(PROVIDER_ATTRIBUTE)
SA_AWAITING = SearchAttributeKey.for_keyword_list(AWAITING_ATTRIBUTE)
SA_PEOPLE = SearchAttributeKey.for_keyword_list(PEOPLE_ATTRIBUTE)
SA_DUE = SearchAttributeKey.for_datetime(DUE_ATTRIBUTE)
SA_PROGRAM = SearchAttributeKey.for_keyword(PROGRAM_ATTRIBUTE)
SEARCH_ATTRIBUTES = (SA_PHASE, SA_HEALTH, SA_STATE, SA_CLIENT, SA_PROVIDER, SA_AWAITING, SA_PEOPLE, SA_DUE, SA_PROGRAM)
"""Every custom search attribute the workflow sets; `bpo server` registers them all."""
