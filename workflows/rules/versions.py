"""The versioning seam: whether a change of behaviour applies to this transition.

Running transitions must replay exactly as they ran. A rule that changes what it does asks
``machine.changed(CHANGE_ID)`` and keeps the old branch for ``False``. The rules stay free of
Temporal: the workflow backs the question with ``workflow.patched`` in its handlers (``True`` for
a transition that reaches the rule for the first time under the new code, ``False`` while it
replays a history recorded before the change) and answers ``True`` in its validators, which
never replay; tests pass whatever they need.
"""

from __future__ import annotations

from collections.abc import Callable

Patched = Callable[[str], bool]
"""Asked with a change id; answers whether the change applies to this transition."""

ROSTER_AUTHORITY = "roster-authority-2026-11"
"""No one changes their own roles; sponsor-level roles only by a sponsor of the same org."""
FIXED_APPROVERS = "fixed-approvers-2026-11"
"""The approvers of a ``rule: all`` gate are fixed when it opens."""
KPI_PROVENANCE = "kpi-provenance-2026-11"
"""Readings name a reporter; a recorded reading stands unless corrected."""
RUN_SCOPED_IDS = "run-scoped-ids-2026-11"
"""Audit and notice ids carry the run, so a transition started again under an ended one's id
never collides with the old rows."""
DRAIN_IN_FLIGHT = "drain-in-flight-2026-11"
"""A run ends only once every delivery in flight has finished and what it left (a failure) is
written: before, the pump stopped at the first empty outbox."""
FAILED_DELIVERIES_AUDITED = "failed-deliveries-audited-2026-11"
"""A delivery refused for good (a bad channel) is audited as notification_failed, as one that
ran out of retries always was."""
APPROVAL_REQUESTS = "approval-requests-2026-11"
"""Each person an open gate waits on is asked to decide it, once per opening, and the people
awaited and the phase's due date are published as search attributes for the web app's inbox."""
PHASE_BREACH_ALERTS = "phase-breach-alerts-2026-11"
"""A reading that misses its SLA during the phases alerts the breach roles, once per KPI and
period label, as one in steady state always did."""
REMINDERS = "reminders-2026-11"
"""People a gate still waits on are reminded on the plan's, phase's or gate's ``reminders``."""
OUTBOX_FLUSH = "outbox-flush-2026-11"
"""One local activity per turn writes the audit entries and makes every delivery; a delivery that
fails is tried again from the carried state for ``BPO_DELIVERY_GIVE_UP`` (or kept as failed), so
no continue-as-new or end drops it; a sent notice is never sent again by a retried flush."""
HISTORY_BUDGETED = "history-budget-2026-11"
"""A run continues as new once its history reaches the workflow's budget of events."""
DELEGATION_DATES = "delegation-dates-2026-11"
"""A delegation whose last day has passed is refused."""
OBJECTIVES_TRACKED = "objectives-2026-11"
"""An objective whose due date passes unmet is told to the executive sponsors, once."""
FLUSH_BATCHED = "flush-batched-2026-11"
"""After an update the flush waits a moment, so the update is answered in its own workflow task
and the decisions that follow join the same flush."""
RUNS_BY_BUDGET = "runs-by-budget-2026-11"
"""A run continues as new when its history reaches the budget, no longer at every settled period:
a steady-state year takes one or two runs, not twelve, and carries its plan that many times."""
UPDATE_ID_REQUESTS = "update-id-requests-2026-11"
"""A command without a request id counts once per Temporal update id."""
AMENDMENT_KEEPS_CLIENT = "amendment-keeps-client-2026-12"
"""An amendment may not change the plan's ``client``: the deployment's connections a plan may use
are open to its client (trust: "The boundary"). Not in the epoch below: asked on its own."""
SIGNATURES_BOUND = "signatures-bound-2026-12"
"""A signature covers the transition's run family (its first run's id) and the time it was signed;
an update must arrive within the window of its signing; request ids are remembered by time, not
the last 500, so a recorded command is refused however many came after it; a trusted key may
rotate the keys (``trust_keys``). Not in the epoch below: asked on its own."""
REFUSALS_REMEMBERED = "refusals-remembered-2026-12"
"""The request id of a validly signed command that was refused is remembered (as applied ones
are), and a command carrying it is refused: the refused command's record (a ``signal_refused``
row, the update's history) cannot be sent again once it would pass. Not in the epoch below."""
START_FRESH = "start-fresh-2026-12"
"""A fresh signed start (not a continue-as-new) must be signed within the window of the moment
Temporal started the run: a start recorded in an ended transition's history cannot be started
again under its id later. Not in the epoch below: asked on its own."""
AMENDMENT_NAMES_KEPT = "amendment-names-kept-2026-12"
"""An amendment may not add a gate whose key starts with ``amendment_`` (the names of proposed
amendments): its approvals would go to an amendment's decision, never to the gate. A key the
running plan already has stays allowed. Not in the epoch below: asked on its own."""

EVIDENCE_PINNED = "evidence-pinned-2026-11"
"""An approval whose evidence is a URL (or an uploaded file) waits while an activity fetches it;
the sign-off records its SHA-256 and size, and evidence refused (or required and unreachable)
refuses the approval. Not in the epoch below: asked on its own."""

READINGS_STAND = "readings-stand-2026-12"
"""A reading stands in every phase and in steady state, not only while a KPI gate is open: a
transition-wide record of period and metric, carried across continue-as-new, refuses a second
reading without ``--correct --reason``, and a feed never overwrites a reading that stands. Not in
the epoch below: asked on its own."""

EVIDENCE_RECHECKED = "evidence-rechecked-2026-12"
"""Evidence pinned by an approval is fetched again once a day while the transition runs (phases
and steady state, not while paused); a change is audited as ``evidence_changed`` and told to the
points of contact and program managers once per approval, an unreachable source audited once
until it answers again. Not in the epoch below: asked on its own."""

NOTICE_NAMES = "notice-names-2026-12"
"""Notices call phases and gates by the plan's ``name:`` (a gate without one by its key in
words, "Gap analysis approved"), as the web app and the documents do, where they named a gate by
its key; the pause a rejection leaves says so too. Not in the epoch below: asked on its own."""

FLUSH_MARKED = "flush-marked-2026-12"
"""Each flush makes a value of its own in the workflow (``workflow.uuid4()``: the same when a
workflow task runs again, never in the audit database) and marks each row it writes with a hash of
it and the row's id: a row found under one of its ids counts as an earlier try of this flush (a
delivery already sent, the chain's place before it) only if it carries that mark, which no one
who merely writes the table can predict. Not in the epoch below: asked on its own."""

WAVE_VOLUMES = "wave-volumes-2026-12"
"""A wave's notice counts the scope's volume and FTE ("50% of the volume: 21,000 of 42,000
contacts a month, 12 of 24 FTE"); a workstream's wave counts its own scope. Asked on its own."""

PULLS_SETTLED = "pulls-settled-2026-12"
"""A run that continues as new first lets the feed pulls under way finish (and starts no other):
their readings or misses are kept in the carried state instead of lost with the run, and no
activity outlives its run (one that does holds the test server's clock forever). Asked on its
own, at the continue-as-new."""

COSTS_RECORDED = "costs-recorded-2026-12"
"""The program office records actual costs (the ``cost`` update; not a signal, as a ``cost``
signal was refused before): kept in the carried state, audited as ``cost_recorded``, netted from
the savings the status shows. A run that takes a cost records the change, so ``bpo versions``
tells the transitions that hold costs. Asked on its own."""

NOTICE_FACTS = "notice-facts-2026-12"
"""An approval request and a reminder carry their gate's facts beside their words: its name,
what it needs, who has signed and when it is due (its own due, else its phase's), so a Slack
message, a Teams card and a mail's calendar entry show them. Asked on its own."""

RELAY_CONFIRMED = "relay-confirmed-2026-12"
"""A workstream takes a relayed command only once its own program confirms (a query, through an
activity) that it relayed that command, by request id, to that workstream; a program keeps the
record of each relay it sends. A signed command copied from the program's history and sent to a
workstream it was never relayed to is refused. Asked on its own."""

AMENDMENT_KEEPS_CURRENCY = "amendment-keeps-currency-2026-12"
"""Once costs are recorded, an amendment may neither change ``business_case.currency`` nor drop the
business case: the costs carry no currency of their own, so they would be counted in the new one
(40,000 EUR read as 40,000 USD). Refused on the proposal, and on the approval of one proposed
before the first cost. Asked of every proposal and amendment decision, so every history records it."""

RELAY_REMEMBERED = "relay-remembered-2026-12"
"""A workstream holds a relay for its program's confirmation only if it is signed for its program
by a key it trusts (a flood of unsigned ones is refused as it comes, and never crowds out the
program's own), and remembers every relay it decided on (applied, left as it was, or refused)
for as long as its program keeps the record, so a copy sent later is refused as a repeat; its
report to its program goes out between relays held, never after a queue that keeps filling.
Asked on its own."""

FLUSH_YIELDS = "flush-yields-2026-12"
"""A decision answered in the very workflow task in which a held flush's wait ends is answered
at once: the flush waits once more, where it would have held the answer until its local activity
returned."""

RULES_2026_11 = "rules-2026-11"
"""Every change above at once. Each ``workflow.patched`` records a marker and upserts Temporal's
change-version search attribute, in every run; a run started on this code records this one
instead, and its answer stands for all the changes it covers."""
COVERED = {
    RULES_2026_11: frozenset(
        {
            ROSTER_AUTHORITY,
            FIXED_APPROVERS,
            KPI_PROVENANCE,
            RUN_SCOPED_IDS,
            DRAIN_IN_FLIGHT,
            FAILED_DELIVERIES_AUDITED,
            APPROVAL_REQUESTS,
            PHASE_BREACH_ALERTS,
            REMINDERS,
            OUTBOX_FLUSH,
            HISTORY_BUDGETED,
            DELEGATION_DATES,
            OBJECTIVES_TRACKED,
            FLUSH_BATCHED,
            RUNS_BY_BUDGET,
            UPDATE_ID_REQUESTS,
        }
    )
}
"""The changes each epoch stands for, oldest epoch first; a change made after the newest is asked
on its own."""

RULES_2026_12 = "rules-2026-12"
"""Every change before it at once, the first epoch and the rules epoch's memo among them: a run
begun on this code records one marker (and one upsert of Temporal's change-version search
attribute) where it recorded one for each change its paths asked (seven in a compact
transition's first run), each an event, and each upsert a write to the server's visibility store."""

RULES_2026_12B = "rules-2026-12b"
"""Every change before it at once: `rules-2026-12` and the one change after it. That change is
asked only when a decision meets a flush, so a run begun today would record no marker of it, and
look to `bpo versions`, reading its history without its memo, as if begun before it: this epoch's
marker, recorded at every run's start, says it was not."""

AUDIT_LINGERS = "audit-lingers-2026-12"
"""Audit entries with no notice among them wait up to the start's ``audit_linger`` (counted from
the decision that made the first) for others to join their flush, unless a notice comes, someone
asks for the trail (the ``settle_audit`` signal) or the run ends; a Temporal cancel request (which
ends the run where it waits) has them written first. Asked only by a run started with a linger, at
a held flush or a cancel request."""

RULES_2026_12C = "rules-2026-12c"
"""Every change before it at once: `rules-2026-12b` and `audit-lingers-2026-12`, which a run asks
only at a lingering flush: this epoch's marker, recorded at every run's start, says it knows it."""

FLUSH_HURRIED = "flush-hurried-2026-12"
"""A reader of the trail (the ``audit_written`` update, or the ``settle_audit`` signal) cuts a held
flush's wait short, as it cuts a lingering one's: the flush goes in the reader's own workflow
task, where it waited for the hold's timer, and a workflow task of its own, to fire."""

RULES_2026_12D = "rules-2026-12d"
"""Every change before it at once: `rules-2026-12c` and `flush-hurried-2026-12`, which a run asks
only at a held flush: this epoch's marker, recorded at every run's start, says it knows it."""

RUN_KEY_HASHED = "run-key-hashed-2026-12"
"""A run family's key in its audit and notice ids is 8 hex digits of a hash of its first run's id,
no longer that id's first 8 digits, which Temporal's time-ordered (version 7) run ids share for
about a minute: a transition started again under an ended one's id within that minute made the
same ids again. Asked once, at a transition's start."""

RULES_2026_12E = "rules-2026-12e"
"""Every change before it at once: `rules-2026-12d` and `run-key-hashed-2026-12`, so that a run
begun today records one marker at its start, not two (each marker brings an upsert of Temporal's
``TemporalChangeVersion`` with it)."""

RULES_EPOCH = "rules-epoch-2026-12"
"""Each run records, at its start, the rules epoch it was begun under (the newest change id its
code knew, a memo read by ``bpo versions``), so an old branch can be retired once no open
transition was begun before its change."""

CHANGES = (
    ROSTER_AUTHORITY,
    FIXED_APPROVERS,
    KPI_PROVENANCE,
    RUN_SCOPED_IDS,
    DRAIN_IN_FLIGHT,
    FAILED_DELIVERIES_AUDITED,
    APPROVAL_REQUESTS,
    PHASE_BREACH_ALERTS,
    REMINDERS,
    OUTBOX_FLUSH,
    HISTORY_BUDGETED,
    DELEGATION_DATES,
    OBJECTIVES_TRACKED,
    FLUSH_BATCHED,
    RUNS_BY_BUDGET,
    UPDATE_ID_REQUESTS,
    RULES_2026_11,
    EVIDENCE_PINNED,
    READINGS_STAND,
    EVIDENCE_RECHECKED,
    AMENDMENT_KEEPS_CLIENT,
    SIGNATURES_BOUND,
    RULES_EPOCH,
    REFUSALS_REMEMBERED,
    START_FRESH,
    AMENDMENT_NAMES_KEPT,
    NOTICE_NAMES,
    FLUSH_MARKED,
    WAVE_VOLUMES,
    PULLS_SETTLED,
    COSTS_RECORDED,
    NOTICE_FACTS,
    RELAY_CONFIRMED,
    AMENDMENT_KEEPS_CURRENCY,
    RELAY_REMEMBERED,
    RULES_2026_12,
    FLUSH_YIELDS,
    RULES_2026_12B,
    AUDIT_LINGERS,
    RULES_2026_12C,
    FLUSH_HURRIED,
    RULES_2026_12D,
    RUN_KEY_HASHED,
    RULES_2026_12E,
)
"""Every change id in the order it was released: code that knew one knew every one before it. A
new change is appended here (docs/upgrading.md); the last is the epoch a run records."""
COVERED[RULES_2026_12] = frozenset(CHANGES[: CHANGES.index(RULES_2026_12)])
COVERED[RULES_2026_12B] = frozenset(CHANGES[: CHANGES.index(RULES_2026_12B)])
COVERED[RULES_2026_12C] = frozenset(CHANGES[: CHANGES.index(RULES_2026_12C)])
COVERED[RULES_2026_12D] = frozenset(CHANGES[: CHANGES.index(RULES_2026_12D)])
COVERED[RULES_2026_12E] = frozenset(CHANGES[: CHANGES.index(RULES_2026_12E)])
EPOCHS_OF = {change: tuple(e for e, covered in reversed(COVERED.items()) if change in covered) for change in CHANGES}
"""The epochs that stand for each change, the newest first: what the workflow's seam asks before
the change itself."""
NEWEST = CHANGES[-1]
"""The rules epoch of this code: what a run begun by it records."""
REMOVED: frozenset[str] = frozenset()
"""Change ids whose old branch is gone from the code (docs/upgrading.md): a history of the replay
corpus that may need one is kept, and skipped by tests/test_replay.py with the id it needs."""


def every_change(change: str) -> bool:
    """The seam outside a workflow: every change applies, as to a transition started today."""
    return True
