"""Programs and their workstreams: which workstreams start when, what their reports change, what
the program relays to them, and how a workstream ends (semantics: "Workstreams").

Both halves are here, over plain state: the program's (``state.workstreams``, one record per
workstream) and the workstream's (``state.program``, the link to its program). The workflow
(`workflows.program`) starts the workstreams and carries the signals these rules ask for.
"""

from __future__ import annotations

from datetime import datetime

from models.commands import BY_UPDATE, Command
from models.plan import NOTIFIED_OF_CONTROL, Plan
from models.plan_words import Health
from models.program import (
    MAX_RELAYS_KEPT,
    RELAY_SIGNAL,
    RELAY_SLACK,
    RELAYED,
    RELAYS_KEPT,
    RelayAnswer,
    RelayAsk,
    Relayed,
    SentRelay,
    Workstream,
    WorkstreamRead,
    WorkstreamReport,
    relay_key,
    relayed,
)
from models.status import WorkstreamStatus
from models.workstreams import phases_of, start_phase, workstream_id
from workflows.rules.checks import check_signed
from workflows.rules.clock import View, is_done
from workflows.rules.outbox import Recorder
from workflows.rules.phases import HEALTH_ORDER, raise_health
from workflows.rules.refusals import RefusalKind, Refused
from workflows.rules.replays import is_repeat
from workflows.rules.versions import RELAY_CONFIRMED, RELAY_REMEMBERED

LIVE = ("running", "paused")
"""States of a workstream whose own rules run (or will, once resumed)."""


# --- the program's half ---------------------------------------------------------------------


def watch(m: Recorder, now: datetime) -> None:
    """Once the program reaches the phase that starts its workstreams, keep a record of each; a
    workstream that waits for one cancelled or blocked never starts, and the program escalates."""
    first = start_phase(m.plan)
    if first is None or m.state.phase_index < first:
        return
    for stream in m.plan.workstreams:
        if stream.key not in m.state.workstreams:
            m.state.workstreams[stream.key] = Workstream(key=stream.key)
    records = m.state.workstreams
    for stream in m.plan.workstreams:
        record = records[stream.key]
        # What it waits for and will never see: a phase not passed by a workstream that ended.
        failed = [
            k
            for k, phase in stream.after.items()
            if phase not in records[k].passed and records[k].state in ("cancelled", "blocked")
        ]
        if record.state == "waiting" and failed:
            block(m, stream.key, f"it waits for {failed[0]}, which was {records[failed[0]].state}", now, failed[0])
        elif record.state == "blocked" and record.held_by and not failed:  # an amendment dropped the dependency
            record.state, record.blocked, record.held_by, record.ended_at = "waiting", None, None, None
            m.audit("workstream_unblocked", now, detail={"workstream": stream.key})


def due_to_start(v: View) -> list[str]:
    """The workstreams to start now: waiting, with every ``after`` met, the program running."""
    if v.state.state != "running":
        return []
    return [
        w.key
        for w in v.plan.workstreams
        if (record := v.state.workstreams.get(w.key)) is not None
        and record.state == "waiting"
        and all(phase in v.state.workstreams[k].passed for k, phase in w.after.items())
    ]


def starting(m: Recorder, key: str) -> None:
    """The workflow is starting workstream ``key``: it is not started twice."""
    m.state.workstreams[key].state = "starting"


def started(m: Recorder, key: str, now: datetime) -> None:
    """Workstream ``key`` runs."""
    record = m.state.workstreams[key]
    record.state, record.started_at = ("cancelled" if m.state.state == "cancelled" else "running"), now
    record.phase = phases_of(m.plan, key)[0].key
    m.audit("workstream_started", now, detail={"workstream": key, "id": workstream_id(m.state.id, key)})
    stream = m.plan.workstream(key)
    name = stream.name if stream else key
    message = (f"[{m.plan.client}] workstream started: {name}", f"'{m.plan.name}': workstream {name} has started.")
    m.notify("workstream_started", message, ["point_of_contact"], now)


def block(m: Recorder, key: str, reason: str, now: datetime, held_by: str | None = None) -> None:
    """Workstream ``key`` cannot start (``held_by`` the workstream whose end holds it): say why,
    and escalate the program."""
    record = m.state.workstreams[key]
    record.state, record.blocked, record.ended_at, record.held_by = "blocked", reason, now, held_by
    raise_health(m, m.phase_key, "escalated")
    m.audit("workstream_blocked", now, detail={"workstream": key, "reason": reason})
    stream = m.plan.workstream(key)
    name = stream.name if stream else key
    message = (
        f"[{m.plan.client}] workstream blocked: {name}",
        f"'{m.plan.name}': workstream {name} cannot start: {reason}. Amend the plan or waive the gate it holds.",
    )
    m.notify("escalation", message, ["executive_sponsor", *NOTIFIED_OF_CONTROL], now)


def changed(m: Recorder, key: str) -> None:
    """Workstream ``key`` says it changed: read it (once, however many times it says so)."""
    record = m.state.workstreams.get(key)
    if record is not None and record.state not in ("waiting", "blocked") and key not in m.state.reads:
        m.state.reads = [*m.state.reads, key]


def take_read(m: Recorder) -> WorkstreamRead | None:
    """The next workstream to read from Temporal, taken off the list."""
    if not m.state.reads:
        return None
    key, m.state.reads = m.state.reads[0], m.state.reads[1:]
    return WorkstreamRead(program=m.state.id, key=key, seq=m.state.workstreams[key].seq + 1)


def reported(m: Recorder, report: WorkstreamReport, now: datetime) -> None:
    """Keep where a workstream stands (read from Temporal, newest first), auditing what it passed."""
    record = m.state.workstreams.get(report.key)
    if record is None or record.state in ("waiting", "blocked") or report.seq <= record.seq:
        return  # not one this program started, or an older read overtaken by a newer one
    if record.state in ("completed", "cancelled") and report.state in LIVE:
        return  # read before it took the program's cancel: it ends, whatever the read said
    newly = [p for p in report.passed if p not in record.passed]
    ended = report.state in ("completed", "cancelled") and record.state != report.state
    record.seq, record.state, record.phase, record.health = report.seq, report.state, report.phase, report.health
    record.passed = list(dict.fromkeys([*record.passed, *report.passed]))
    record.next_due, record.waiting_for = report.next_due, report.waiting_for
    for phase in newly:
        m.audit("workstream_phase_passed", now, detail={"workstream": report.key, "passed": phase})
    if ended:
        record.ended_at = now
        kind = "workstream_completed" if report.state == "completed" else "workstream_cancelled"
        m.audit(kind, now, detail={"workstream": report.key})


def health(v: View) -> Health:
    """The program's health: the worst of its own and its live workstreams'."""
    worst = v.state.health
    for record in v.state.workstreams.values():
        if record.state in LIVE and HEALTH_ORDER.index(record.health) > HEALTH_ORDER.index(worst):
            worst = record.health
    return worst


def waiting_text(plan: Plan, record: Workstream, records: dict[str, Workstream]) -> str:
    """What a workstream not yet started waits for, as status says it (``waiting for email to
    pass pilot``)."""
    stream = plan.workstream(record.key)
    if record.blocked:
        return f"blocked: {record.blocked}"
    pending = [f"{k} to pass {p}" for k, p in (stream.after.items() if stream else []) if p not in records[k].passed]
    return "waiting for " + " and ".join(pending) if pending else "waiting for the program"


def relay(m: Recorder, command: Command, now: datetime) -> None:
    """Keep a command the program applied that its live workstreams take too, to send on; a
    cancelled program's workstreams not yet started never will."""
    to = [workstream_id(m.state.id, k) for k, r in m.state.workstreams.items() if r.state in (*LIVE, "starting")]
    if command.update in RELAYED and to:
        sent = relayed(command.update, command, to)
        m.state.relays = [*m.state.relays, sent]
        if m.changed(RELAY_CONFIRMED):  # recorded before it is sent: a confirming query sees it
            record_relay(m, sent, now)
    if command.update == "cancel":  # every one ends with it: those running by the relay
        for record in m.state.workstreams.values():
            if record.state in ("waiting", *LIVE, "starting"):
                record.state, record.ended_at = "cancelled", now
                m.audit("workstream_cancelled", now, detail={"workstream": record.key, "reason": "program cancelled"})


def record_relay(m: Recorder, sent: Relayed, now: datetime) -> None:
    """Keep the record of a relay the program sends, for its workstreams to confirm it against;
    records older than `RELAYS_KEPT`, or past the newest `MAX_RELAYS_KEPT`, are forgotten (a
    relay asked about after that is refused, never wrongly taken)."""
    kept = [r for r in m.state.relays_sent if r.at >= now - RELAYS_KEPT]
    record = SentRelay(key=relay_key(sent), to=list(sent.to), at=now)
    m.state.relays_sent = [*kept, record][-MAX_RELAYS_KEPT:]


def confirms(v: View, ask: RelayAsk) -> RelayAnswer:
    """Whether this program relayed command ``ask.key`` to workstream ``ask.workstream``, from its
    own record (the answer to a workstream's `RELAYS_QUERY`); reads only."""
    if ask.program != v.state.id or (ask.program_run and ask.program_run != v.state.first_run_id):
        return RelayAnswer(confirmed=False, reason="the program asked is not the one that started this workstream")
    sent = next((r for r in reversed(v.state.relays_sent) if r.key == ask.key), None)
    if sent is None:
        return RelayAnswer(confirmed=False, reason="its program has no record of relaying this command")
    if ask.workstream not in sent.to:
        return RelayAnswer(
            confirmed=False, reason="its program relayed this command to other workstreams, not to this one"
        )
    return RelayAnswer(confirmed=True)


# --- the workstream's half ------------------------------------------------------------------


def report(v: View, now: datetime) -> WorkstreamReport:
    """Where this workstream stands at ``now``, for its program (``seq`` set by the sender)."""
    link = v.state.program
    assert link is not None
    passed = list(dict.fromkeys(r.phase for r in v.state.phases if r.outcome == "passed"))
    waiting = [g.key for g in v.state.gates if not is_done(g)]
    state = v.state.state
    return WorkstreamReport(
        key=link.key,
        seq=max(v.state.reported, 1),
        state=state,
        phase=v.phase_key,
        passed=[p for p in passed if p in [ph.key for ph in v.plan.phases]],
        health=v.state.health,
        next_due=v.phase_due(now) if state == "running" else None,
        waiting_for=waiting[:50],
    )


def relayed_command(v: View, relay: Relayed) -> Command:
    """The program's command a relay carries, or a `Refused` saying why it is not one."""
    command_type = BY_UPDATE.get(relay.update)
    if v.state.program is None:
        raise Refused(f"a {RELAY_SIGNAL} goes to a workstream; this is not one", RefusalKind.BAD_INPUT)
    if command_type is None or relay.update not in RELAYED:
        raise Refused(f"a program does not relay '{relay.update}'", RefusalKind.UNKNOWN_COMMAND)
    return command_type.model_validate(relay.command)


MAX_UNSIGNED_RELAYS_WAITING = 20
"""Before `RELAY_REMEMBERED`: the most relays held, signed or not."""
MAX_RELAYS_WAITING = MAX_RELAYS_KEPT
"""The most relays a workstream holds while it asks its program about them. Only a relay signed by
a key the workstream trusts, for its program, is held, and never one it decided on already: so
whoever floods the signal can hold no more than the program's own signed commands since this
workstream started that it has not decided on yet: the program's own rate, one person's command at
a time, far below this. Each is asked about in turn, and then remembered (`relay_decided`)."""


def relay_arrived(m: Recorder, relay: Relayed) -> None:
    """Hold a relay until this workstream's program confirms it sent it (`workflows.program`): the
    signal itself may come from anyone who reaches Temporal, so only one signed for the program by
    a key this workstream trusts waits. One held already is dropped; a `Refused` says why one is
    not taken at all: not a relay, not signed, or one decided on here already (a repeat)."""
    command = relayed_command(m, relay)
    key = relay_key(relay)
    remembered = m.changed(RELAY_REMEMBERED)
    decided = m.state.relays_decided.get(key) if remembered else None
    if decided is not None:
        raise Refused(
            f"a repeat of a relay this workstream decided on at {decided:%Y-%m-%d %H:%M:%S} UTC; "
            "a relay is taken once: its program's sponsor sends the command anew",
            RefusalKind.REPLAYED,
        )
    if is_repeat(m, command) or any(relay_key(r) == key for r in m.state.relays_in):
        return
    link = m.state.program
    assert link is not None
    if remembered:  # as `apply_relayed` checks them: signed for the program, since this one started
        if m.state.trusted_keys:
            check_signed(m, command, origin=(link.program, link.program_run))
        check_relay_time(m, command)
    if len(m.state.relays_in) >= (MAX_RELAYS_WAITING if remembered else MAX_UNSIGNED_RELAYS_WAITING):
        raise Refused(
            f"{len(m.state.relays_in)} relays already wait for this workstream's program to confirm them",
            RefusalKind.BAD_INPUT,
        )
    m.state.relays_in = [*m.state.relays_in, relay]


def relay_decided(m: Recorder, relay: Relayed, now: datetime) -> None:
    """Remember that this workstream decided on ``relay`` (applied it, left it as it was, or
    refused it), by its key as the program records it: a copy sent later is refused as a repeat
    (`relay_arrived`). Kept for `RELAYS_KEPT` after the decision (the program keeps its record as
    long from the relay's sending, which came first), the newest `MAX_RELAYS_DECIDED` at most,
    carried across continue-as-new with the state."""
    if not m.changed(RELAY_REMEMBERED):
        return
    kept = {k: at for k, at in m.state.relays_decided.items() if at >= now - RELAYS_KEPT}
    kept[relay_key(relay)] = now
    m.state.relays_decided = dict(sorted(kept.items(), key=lambda item: item[1])[-MAX_RELAYS_DECIDED:])


MAX_RELAYS_DECIDED = 4 * MAX_RELAYS_KEPT
"""The most relays a workstream remembers deciding on: more than its program keeps records of
(`MAX_RELAYS_KEPT`), so every relay the program would still confirm is remembered here."""


def statuses(v: View) -> list[WorkstreamStatus]:
    """Each workstream of the program as its status lists it, in the plan's order."""
    records = {w.key: v.state.workstreams.get(w.key) or Workstream(key=w.key) for w in v.plan.workstreams}
    return [
        WorkstreamStatus(
            key=w.key,
            id=workstream_id(v.state.id, w.key),
            name=w.name,
            state=(r := records[w.key]).state,
            phase=r.phase,
            passed=r.passed,
            health=r.health,
            next_due=r.next_due,
            waiting=waiting_text(v.plan, r, records) if r.state in ("waiting", "blocked") else None,
            waiting_for=r.waiting_for,
        )
        for w in v.plan.workstreams
    ]


def takes_relay(m: Recorder, command: Command, now: datetime) -> bool:
    """Whether a relayed pause or resume applies here: a workstream paused on its own is neither
    paused again nor resumed by its program (the relay is noted on its trail, nobody told)."""
    paused = m.state.state == "paused"
    if (command.update == "pause" and paused) or (command.update == "resume" and not m.state.program_paused):
        why = "paused on its own" if paused else "not paused by its program"
        m.audit(
            "signal_refused",
            now,
            actor=getattr(command, "by", None),
            detail={"command": RELAY_SIGNAL, "reason": f"{command.update}: {why}; left as it is", "refusal": "Noted"},
        )
        return False
    return True


def check_relay_time(v: View, command: Command) -> None:
    """Refuse a relayed command signed well before this workstream started: the plan it started
    with holds what the program decided before, and an older command was never meant for it."""
    link = v.state.program
    assert link is not None
    since = link.since or v.state.started_at
    if command.signed_at is not None and command.signed_at < since - RELAY_SLACK:
        raise Refused(
            f"signed {command.signed_at:%Y-%m-%d %H:%M} UTC, before this workstream started; its program's "
            "commands before then are in the plan it started with",
            RefusalKind.REFUSED_BEFORE,
        )
