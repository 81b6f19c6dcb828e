"""The audit repository: writing entries into each transition's hash chain, reading the chain
and the trail back. The audit activity, the web app and the command line all read and write here."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import structlog
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from infra.chain import GENESIS, ChainRow, row_content, row_hash
from models.deliveries import AuditEntry, ChainHead, Delivery, delivery_id, sent_entry
from models.signing import canonical_json
from models.tables import AuditHead, AuditRecord, audit_uuid

log = structlog.get_logger(__name__)
RECORDS, HEADS = AuditRecord.__table__, AuditHead.__table__  # type: ignore[attr-defined]
MAX_ATTEMPTS = 20
COLLISION = "the audit table already holds another row under the id "
"""How a write refused for a collision begins, in the error and in the flush's answer (which
the workflow's history keeps, and `bpo audit --verify` reads back)."""


class AuditCollision(Exception):
    """A row already stored under an entry's id says something else: it was not written by the
    transition (a retried write finds its own row: `says_the_same`).
    Nothing of the write is kept, and the chain's head is not to be anchored."""

    def __init__(self, entry: AuditEntry, stored: ChainRow) -> None:
        self.event_id, self.position = entry.id, stored.position
        super().__init__(
            f"{COLLISION}{entry.id!r} (row {stored.position}, {stored.kind}), with other content than the "
            f"transition's {entry.kind}: it was written by something other than the transition"
        )

    def __reduce__(self) -> tuple[object, tuple[str, str, int | None]]:
        """As it crosses from the audit writer's process (`activities.audit_writer`)."""
        return _collision, (str(self), self.event_id, self.position)


def _collision(message: str, event_id: str, position: int | None) -> AuditCollision:
    collision = Exception.__new__(AuditCollision)
    Exception.__init__(collision, message)
    collision.event_id, collision.position = event_id, position
    return collision


class _ChainMoved(Exception):
    """Another writer attached rows to the same chain since we read its head."""


def write_entries(
    entries: list[AuditEntry],
    *,
    session: Session,
    flush: str | None = None,
    written: list[ChainHead] | None = None,
) -> int:
    """Insert the entries not yet stored (by stable id), each linked into its transition's hash
    chain; returns how many were new. Writers race on a chain's head: the loser starts again.
    With ``flush`` (the flush's value), each row carries its mark (`flush_mark`), and a row
    stored under an entry's id is this write again only if it carries its mark for what it says
    (`says_the_same`). With ``written``, each chain this write extended is added to it, as the
    committed transaction left it: its head, and where it stood before (``since``), both read in
    that transaction.

    Raises:
        AuditCollision: a row stored under an entry's id has other content (nothing is written).
    """
    for attempt in range(MAX_ATTEMPTS):
        segments: list[ChainHead] = []
        try:
            fresh = _append(entries, session, flush, segments)
            session.commit()
            if written is not None:
                written.extend(segments)
            return fresh
        except AuditCollision as collision:
            session.rollback()
            log.error("audit_collision", transition_id=entries[0].transition_id, event_id=collision.event_id,
                      position=collision.position, error=str(collision))  # fmt: skip
            raise
        except (_ChainMoved, IntegrityError, OperationalError):
            session.rollback()
            if attempt == MAX_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


FLUSH_MARK = "flush"
"""The key of a row's ``detail`` that holds the mark of the flush that wrote it (`flush_mark`)."""


def flush_mark(flush: str, row: ChainRow) -> str:
    """The mark a flush puts on ``row``: a hash of the flush's value (never stored: the
    transition's id keyed with the workers' secret, `activities.outbox`) and of everything the
    row says (`infra.chain.row_content`, its mark aside). Whoever reads one row's mark cannot
    make another's, whoever writes the table without the workers' secret cannot know it, and a
    row edited after it was written no longer carries its mark; every try of the transition's
    workers marks a row of the same content alike."""
    content = row_content(row)
    content["detail"] = _without(content["detail"], {FLUSH_MARK})
    return hashlib.sha256(f"{flush}\n".encode() + canonical_json(content)).hexdigest()


def marked(row: ChainRow, flush: str) -> bool:
    """Whether ``row`` carries the mark ``flush`` puts on a row saying what it says."""
    return isinstance(row.detail, dict) and row.detail.get(FLUSH_MARK) == flush_mark(flush, row)


def _without(detail: object, keys: set[str]) -> object:
    """A row's detail but ``keys``; a detail that is no mapping (put there by hand: the engine
    writes none) as it is, so it matches nothing the engine writes."""
    if isinstance(detail, dict):
        return {k: v for k, v in detail.items() if k not in keys}
    return {} if detail is None else detail


def record_of(entry: AuditEntry, flush: str | None = None) -> AuditRecord:
    """The row an entry is written as, before its place in the chain is known; marked as the
    row of the flush that made ``flush``, if given."""
    return AuditRecord(**row_values(entry, flush))


def row_values(entry: AuditEntry, flush: str | None = None) -> dict[str, Any]:
    """`record_of`'s columns as plain values: what a write inserts, without building the row."""
    values = {
        "id": audit_uuid(entry.id),
        "event_id": entry.id,
        "transition_id": entry.transition_id,
        "kind": entry.kind,
        "phase": entry.phase,
        "gate": entry.gate,
        "actor": entry.actor,
        "at": entry.at,
        "detail": entry.model_dump(mode="json", include={"detail"})["detail"],
        "via": entry.via,
        "signature": entry.signature,
    }
    if flush is not None:
        values["detail"] = {**values["detail"], FLUSH_MARK: flush_mark(flush, SimpleNamespace(**values))}  # type: ignore[arg-type]
    return values


SENT = "notification_sent"
"""A delivery's row; it also names the recipients the mail server refused, which a retried
delivery may find otherwise."""


def says_the_same(stored: ChainRow, record: ChainRow, flush: str | None = None) -> bool:
    """Whether a stored row is ``record`` written by an earlier try of the flush that made
    ``flush``: carrying that flush's mark for what it says, when it marks (`marked`: unedited
    since), and equal in every column the chain hashes but the time, which may be earlier (and a
    delivery's refused recipients).

    A worker that dies after a flush wrote but before Temporal recorded its workflow task runs
    the task again, and the entries made again carry that later task's time; a delivery's row
    carries the moment it was sent. An unmarked row dated after the entry is no earlier try; a
    row the flush's mark vouches for counts whatever its time (the mark covers its time, and the
    sent rows of two channels of one kind, in a plan kept from before such plans were refused,
    may be stored in either order)."""
    if flush is not None:
        return marked(stored, flush) and _what(stored, flush) == _what(record, flush)
    return _aware(stored.at) <= _aware(record.at) and _what(stored, flush) == _what(record, flush)


def _what(row: ChainRow, flush: str | None) -> dict[str, object]:
    """What a row says, but what a retry may say otherwise: its time, a sent row's refused
    recipients, and its mark, when the flush marks (`marked` checks it apart); a flush that marks
    none compares every key of the detail."""
    content = row_content(row)
    content.pop("at")
    leave = ({"refused"} if row.kind == SENT else set()) | ({FLUSH_MARK} if flush is not None else set())
    content["detail"] = _without(content["detail"], leave)
    return content


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone; every time stored is UTC


def _once(entries: list[AuditEntry], flush: str | None) -> list[AuditEntry]:
    """Each id once. A batch may carry one entry twice: two channels of one kind (in a plan kept
    from before such plans were refused) share a delivery's id, so their sent rows do. The first
    stands; a later one that says otherwise collides with it."""
    first: dict[str, AuditEntry] = {}
    for entry in entries:
        kept = first.setdefault(entry.id, entry)
        if kept is not entry and _what(_row(kept, flush), flush) != _what(_row(entry, flush), flush):
            twice = "twice in one write, saying different things (no row is stored there yet)"
            raise _collision(f"{COLLISION}{entry.id!r}: the transition's own entry, {twice}", entry.id, None)
    return list(first.values()) if len(first) < len(entries) else entries


def _row(entry: AuditEntry, flush: str | None) -> ChainRow:
    return SimpleNamespace(**row_values(entry, flush), position=None)  # type: ignore[return-value]


def _append(entries: list[AuditEntry], session: Session, flush: str | None, segments: list[ChainHead]) -> int:
    """The write itself, in SQLAlchemy Core: rows built as plain values and inserted in one
    statement per chain (the ORM's objects cost the writer more than the database did)."""
    entries = _once(entries, flush)
    ids = [audit_uuid(e.id) for e in entries]
    # Looked up by row id and by event id (the unique column): a row put under an entry's event
    # id with another row id, or in another transition, collides as loudly as one under its id.
    found = session.execute(
        select(RECORDS).where(RECORDS.c.id.in_(ids) | RECORDS.c.event_id.in_([e.id for e in entries]))
    ).all()
    by_id, by_event = {r.id: r for r in found}, {r.event_id: r for r in found}
    stored: set[uuid.UUID] = set()
    for entry, key in zip(entries, ids):
        row = by_id.get(key) or by_event.get(entry.id)
        if row is None:
            continue
        # An id already written is this entry again (a retried flush) only if it says the same:
        # an id is predictable, and a row put there first must not stand in for the real one.
        if row.id != key or not says_the_same(row, record_of(entry, flush), flush):
            raise AuditCollision(entry, row)
        stored.add(key)
    fresh = [e for e, key in zip(entries, ids) if key not in stored]
    recorded_at = datetime.now(UTC)
    for transition_id in dict.fromkeys(e.transition_id for e in fresh):
        head = session.execute(select(HEADS.c.position, HEADS.c.hash).where(HEADS.c.transition_id == transition_id)).first()
        position, prev = (head.position, head.hash) if head else (0, GENESIS)
        start, rows = position, []
        for entry in (e for e in fresh if e.transition_id == transition_id):
            position += 1
            values = {**row_values(entry, flush), "recorded_at": recorded_at, "position": position, "prev_hash": prev}
            values["hash"] = prev = row_hash(SimpleNamespace(**values))  # type: ignore[arg-type]
            rows.append(values)
        session.execute(insert(RECORDS), rows)
        if head is None:
            session.execute(insert(HEADS).values(transition_id=transition_id, position=position, hash=prev))
        else:
            moved = session.execute(
                update(HEADS)
                .where(HEADS.c.transition_id == transition_id, HEADS.c.position == start)
                .values(position=position, hash=prev)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _ChainMoved(transition_id)
        # The head moved from ``start`` only if it still stood there: nothing came between.
        segments.append(ChainHead(position=position, hash=prev, since=start))
    return len(fresh)


def chain_head(engine: Engine, transition_id: str) -> ChainHead | None:
    """The transition's chain head as the table holds it now; none before its first row."""
    with Session(engine) as session:
        head = session.exec(select(AuditHead).where(AuditHead.transition_id == transition_id)).first()
    return ChainHead(position=head.position, hash=head.hash) if head else None


def chain_before(
    engine: Engine, transition_id: str, event_ids: list[str], flush: str | None = None
) -> tuple[int, ChainHead | None]:
    """Where the chain stood before the first of ``event_ids`` (rows an earlier try of the same
    flush may have written), or, with none of them written, where it stands now; and, when an
    earlier try wrote them, the head it left (read with them, in one session), which the flush
    records as a write of its own.

    Stored rows count as an earlier try only if every row from the first of them to the head was
    written by the transition's workers: with ``flush``, each carries its mark for what it says
    (`marked`; every flush of the transition marks alike, so the rows a retry wrote when the task
    ran again in another order count too); without, each is one of ``event_ids``. A row put there first by
    hand, or chained after the earlier try's, is not the flush's, so where the chain stands now
    is answered, and the rows before are left for the heads to show (`infra.chain.hold_to_heads`)."""
    keys = {audit_uuid(e): e for e in event_ids}
    with Session(engine) as session:
        head = session.exec(select(AuditHead).where(AuditHead.transition_id == transition_id)).first()
        now = head.position if head else 0
        first = session.exec(
            select(AuditRecord.position)
            .where(
                AuditRecord.transition_id == transition_id,
                col(AuditRecord.id).in_(list(keys)),
                col(AuditRecord.position).is_not(None),
            )
            .order_by(col(AuditRecord.position))
        ).first()
        if first is None or head is None:
            return now, None
        after = session.exec(
            select(AuditRecord).where(AuditRecord.transition_id == transition_id, col(AuditRecord.position) >= first)
        ).all()
    ours = len(after) == now - first + 1 and all(
        (row.id in keys and flush is None) or (flush is not None and marked(row, flush)) for row in after
    )
    if not ours:
        return now, None
    return first - 1, ChainHead(position=head.position, hash=head.hash, since=first - 1)


def read_chain(transition_id: str, *, session: Session) -> list[AuditRecord]:
    """Every audit record of one transition in chain order, for verifying it."""
    rows = session.exec(
        select(AuditRecord).where(AuditRecord.transition_id == transition_id).order_by(col(AuditRecord.position))
    ).all()
    return list(rows)


def read_trail(transition_id: str, *, session: Session) -> list[AuditRecord]:
    """Every audit record of one transition, oldest first."""
    rows = session.exec(
        select(AuditRecord).where(AuditRecord.transition_id == transition_id).order_by(col(AuditRecord.at))
    ).all()
    for row in rows:
        if row.at.tzinfo is None:  # SQLite keeps no zone; every time stored is UTC
            row.at = row.at.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.at, _seq(r.event_id, transition_id)))


def _seq(event_id: str, transition_id: str) -> int:
    # Event ids are "<transition>/[<run>/]<seq>" or, for a delivery, the same and "/<channel>".
    parts = event_id[len(transition_id) + 1 :].split("/")
    # "<seq>", "<seq>/<channel>", "<run>/<seq>", "<run>/<seq>/<channel>": a channel is never a number,
    # a run key may be (8 hex digits of a hash are all decimal for 1 run in 43)
    head = parts[1] if len(parts) > 1 and parts[1].isdigit() else parts[0]
    return int(head) if head.isdigit() else 0


def trail_of(engine: Engine, transition_id: str) -> list[AuditRecord]:
    """The transition's audit trail, oldest first, read in a session of its own."""
    with Session(engine) as session:
        return read_trail(transition_id, session=session)


def record_entries(
    engine: Engine, entries: list[AuditEntry], flush: str | None = None, written: list[ChainHead] | None = None
) -> int:
    """Write ``entries`` in one transaction (marked by the ``flush`` that writes them, if given)
    and log it; returns how many were new. The write's place in the chain is added to
    ``written``, if given (`infra.audit.write_entries`)."""
    with Session(engine) as session:
        new = write_entries(entries, session=session, flush=flush, written=written)
    if entries:
        log.info(
            "audit_recorded",
            transition_id=entries[0].transition_id,
            entries=len(entries),
            new=new,
            kinds=sorted({e.kind for e in entries}),
        )
    return new


def sent_before(engine: Engine, deliveries: list[Delivery], flush: str | None = None) -> set[str]:
    """The deliveries an earlier try of this flush sent: those whose sent row is stored and
    says what this delivery's would (its time and refused recipients aside), this flush's
    mark included. A row of other content under the id was not written by this flush and
    proves nothing was sent."""
    if not deliveries:
        return set()
    try:
        with Session(engine) as session:
            keys = [audit_uuid(delivery_id(d)) for d in deliveries]
            found = {r.id: r for r in session.exec(select(AuditRecord).where(col(AuditRecord.id).in_(keys))).all()}
    except Exception:  # the database is away: send, as the first try would
        return set()
    sent = set()
    for delivery, key in zip(deliveries, keys):
        if key not in found:
            continue
        # A held delivery's row names those held: the same delivery, whatever it names.
        held_there = found[key].detail.get("held") if isinstance(found[key].detail, dict) else None
        held = [str(h) for h in held_there] if isinstance(held_there, list) else []
        if says_the_same(found[key], record_of(sent_entry(delivery, {}, held), flush), flush):
            sent.add(delivery_id(delivery))
        else:
            log.error("delivery_collision", transition_id=delivery.notice.transition_id, event_id=delivery_id(delivery),
                      error=f"a row of other content stands under the delivery's id {delivery_id(delivery)!r}: sending it")  # fmt: skip
    return sent
