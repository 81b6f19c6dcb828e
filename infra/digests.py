"""The digests' repository: people's choices, the notices held for their digests, who is due
one, and marking what a sent digest carried, or what a digest refused for good by the mail server
carried. The worker, the web app and `bpo` read and write here."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from models.deliveries import Notice, Recipient
from models.digest_tables import REFUSAL_WORDS, DigestPreference, HeldNotice
from models.digests import CLAIM_LEASE, DIGESTIBLE, DigestChoice, last_slot, next_slot
from models.notice_facts import gate_facts


def person_key(address: str) -> str:
    """How a person's address is kept: trimmed, in lower case (mail addresses are read so)."""
    return address.strip().lower()


def choice_of(engine: Engine, address: str) -> DigestChoice:
    """``address``'s choice; ``each`` when they never chose."""
    with Session(engine) as session:
        row = session.get(DigestPreference, person_key(address))
    return DigestChoice(mode=row.mode, hour=row.hour, zone=row.zone) if row else DigestChoice()  # type: ignore[arg-type]


def choose(engine: Engine, address: str, choice: DigestChoice, via: str) -> None:
    """Keep ``address``'s choice (the one before it is replaced: only the latest counts)."""
    with Session(engine) as session:
        row = session.get(DigestPreference, person_key(address))
        now = datetime.now(UTC)
        if row is None:
            row = DigestPreference(person=person_key(address), mode=choice.mode, hour=choice.hour, zone=choice.zone,
                                   changed_at=now, changed_via=via)  # fmt: skip
        row.mode, row.hour, row.zone, row.changed_at, row.changed_via = choice.mode, choice.hour, choice.zone, now, via
        session.add(row)
        session.commit()


def item_id(notice_id: str, address: str) -> str:
    """The held item's key: the same notice held again for the same person is the same row."""
    return hashlib.sha256(f"{notice_id}\n{person_key(address)}".encode()).hexdigest()


def hold(engine: Engine, notice: Notice, people: Iterable[Recipient]) -> list[Recipient]:
    """Hold ``notice`` for the digest of each of ``people`` who chose one, if its kind may wait
    (`models.digests.DIGESTIBLE`) and, for a gate, it is not due before their next digest;
    returns those it was held for. Holding again (a retried delivery) keeps the one row; an item
    already sent in a digest is not held anew."""
    if notice.kind not in DIGESTIBLE:
        return []
    mailed = {person_key(p.email): p for p in people if p.email}
    if not mailed:
        return []
    facts = gate_facts(notice)
    due_at = _aware(facts.due) if facts is not None and facts.due is not None else None
    now = datetime.now(UTC)
    with Session(engine) as session:
        daily = {
            p.person
            for p in session.exec(
                select(DigestPreference).where(
                    col(DigestPreference.person).in_(list(mailed)), DigestPreference.mode == "daily"
                )
            ).all()
            # A gate due before this person's next digest goes at once: held, it would reach
            # them only once it is late.
            if due_at is None or due_at >= next_slot(now, p.hour, p.zone)
        }
        if not daily:
            return []
        keys = {item_id(notice.id, k): k for k in daily}
        there = set(session.exec(select(HeldNotice.id).where(col(HeldNotice.id).in_(list(keys)))).all())
        for key, person in keys.items():
            if key not in there:
                session.add(
                    HeldNotice(
                        id=key,
                        person=person,
                        transition_id=notice.transition_id,
                        notice_id=notice.id,
                        kind=notice.kind,
                        notice=notice.model_dump(mode="json"),
                        held_at=now,
                    )
                )
        session.commit()
    return [p for k, p in mailed.items() if k in daily]


def due(engine: Engine, now: datetime) -> dict[str, list[HeldNotice]]:
    """Each person due a digest at ``now``, with every item that waits on them, oldest first: due
    when an item waits from before the latest digest hour they chose, or at once when they no
    longer choose a digest (what was held for them is never dropped)."""
    with Session(engine) as session:
        waiting = session.exec(
            select(HeldNotice)
            .where(col(HeldNotice.sent_at).is_(None), col(HeldNotice.refused_at).is_(None))
            .order_by(col(HeldNotice.held_at))
        ).all()
        people = {i.person for i in waiting}
        choices = {
            p.person: p
            for p in session.exec(select(DigestPreference).where(col(DigestPreference.person).in_(list(people)))).all()
        }
    found: dict[str, list[HeldNotice]] = {}
    for item in waiting:
        found.setdefault(item.person, []).append(item)
    due_now = {}
    for person, items in found.items():
        choice = choices.get(person)
        if choice is None or choice.mode != "daily":
            due_now[person] = items
            continue
        slot = last_slot(now, choice.hour, choice.zone)
        if any(_aware(i.held_at) <= slot for i in items):
            due_now[person] = items
    return due_now


def claim(engine: Engine, ids: list[str], run: str, at: datetime) -> list[HeldNotice]:
    """Claim for the digest run ``run``, at ``at`` (the clock's time, not the run's moment: a
    retried run shares its moment), those of ``ids`` that wait and no other run holds (or whose
    claim is older than `models.digests.CLAIM_LEASE`); returns the items claimed, oldest first.
    One UPDATE decides: of two runs at once, each item goes to one."""
    if not ids:
        return []
    with Session(engine) as session:
        session.execute(
            update(HeldNotice)
            .where(
                col(HeldNotice.id).in_(ids),
                col(HeldNotice.sent_at).is_(None),
                col(HeldNotice.refused_at).is_(None),
                or_(col(HeldNotice.claimed_by).is_(None), col(HeldNotice.claimed_at) < at - CLAIM_LEASE),
            )
            .values(claimed_by=run, claimed_at=at)
        )
        session.commit()
        return list(
            session.exec(
                select(HeldNotice)
                .where(col(HeldNotice.id).in_(ids), col(HeldNotice.claimed_by) == run, col(HeldNotice.sent_at).is_(None))
                .order_by(col(HeldNotice.held_at))
            ).all()
        )


def release(engine: Engine, ids: list[str], run: str) -> None:
    """Give up ``run``'s claim on ``ids`` (its mail failed): the next run takes them at once."""
    with Session(engine) as session:
        session.execute(
            update(HeldNotice)
            .where(col(HeldNotice.id).in_(ids), col(HeldNotice.claimed_by) == run, col(HeldNotice.sent_at).is_(None))
            .values(claimed_by=None, claimed_at=None)
        )
        session.commit()


def mark_sent(engine: Engine, ids: list[str], at: datetime, run: str) -> None:
    """Mark the items a digest carried as sent: kept, never held again. Only those ``run`` still
    claims: a run whose claim was taken over leaves its items to the run that took it."""
    with Session(engine) as session:
        chosen = select(HeldNotice).where(col(HeldNotice.id).in_(ids), col(HeldNotice.claimed_by) == run)
        for row in session.exec(chosen).all():
            row.sent_at = at
            session.add(row)
        session.commit()


def waiting_for(engine: Engine, address: str) -> int:
    """How many items wait for ``address``'s next digest (the ``/me`` page says so)."""
    with Session(engine) as session:
        rows = session.exec(
            select(HeldNotice.id).where(
                HeldNotice.person == person_key(address),
                col(HeldNotice.sent_at).is_(None),
                col(HeldNotice.refused_at).is_(None),
            )
        ).all()
    return len(rows)


def mark_refused(engine: Engine, ids: list[str], at: datetime, run: str, why: str) -> None:
    """Mark the items of a digest the mail server refused for good (a 5xx) as refused at ``at``,
    with ``why`` (the server's answer, cut short): kept, never tried again. Only those ``run``
    still claims, as `mark_sent`."""
    why = refusal_words(why)
    with Session(engine) as session:
        chosen = select(HeldNotice).where(col(HeldNotice.id).in_(ids), col(HeldNotice.claimed_by) == run)
        for row in session.exec(chosen).all():
            row.refused_at, row.refused_why = at, why
            session.add(row)
        session.commit()


def refusal_words(answer: str) -> str:
    """A mail server's answer as kept: on one line, printable, at most `REFUSAL_WORDS` characters
    (a server may answer with pages; what is kept is shown to people as it is)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in answer).split())
    return line if len(line) <= REFUSAL_WORDS else line[: REFUSAL_WORDS - 1] + "…"


def refused_in(engine: Engine, transition_id: str) -> list[HeldNotice]:
    """The items held for a digest of ``transition_id`` whose digest was refused for good, oldest
    first, their times in UTC."""
    with Session(engine) as session:
        found = list(
            session.exec(
                select(HeldNotice)
                .where(HeldNotice.transition_id == transition_id, col(HeldNotice.refused_at).isnot(None))
                .order_by(col(HeldNotice.refused_at))
            ).all()
        )
        session.expunge_all()  # read, not to be written back
    for row in found:
        row.held_at = _aware(row.held_at).astimezone(UTC)  # PostgreSQL answers in its session's zone
        row.refused_at = _aware(row.refused_at or row.held_at).astimezone(UTC)
    return found


def refused_since_chosen(engine: Engine, address: str) -> HeldNotice | None:
    """The latest of ``address``'s items refused for good since they last chose how mail reaches
    them (choosing again is how they act on it; a digest refused after that is shown again)."""
    key = person_key(address)
    with Session(engine) as session:
        latest = session.exec(
            select(HeldNotice)
            .where(HeldNotice.person == key, col(HeldNotice.refused_at).isnot(None))
            .order_by(col(HeldNotice.refused_at).desc())
            .limit(1)
        ).first()
        choice = session.get(DigestPreference, key)
    if latest is None or latest.refused_at is None:
        return None
    if choice is not None and _aware(choice.changed_at) > _aware(latest.refused_at):
        return None
    latest.refused_at = _aware(latest.refused_at).astimezone(UTC)  # the page says UTC
    return latest


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone; every time stored is UTC
