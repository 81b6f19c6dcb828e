"""The verdict of each check of pinned evidence, kept in the audit database: written when the
evidence is pinned and by ``bpo evidence --verify``, read by the pages and the report, which show
the last verdict and when it was found instead of fetching while a person waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.tables import EvidenceCheck, evidence_check_key


@dataclass(frozen=True)
class Found:
    """What one check found about one pinned evidence."""

    transition_id: str
    evidence: str
    sha256: str
    verdict: str
    """``unchanged``, ``changed`` or ``unreachable``."""
    at: datetime
    now_sha256: str | None = None
    now_size: int | None = None
    problem: str | None = None


def record_checks(engine: Engine, found: list[Found]) -> None:
    """Keep each verdict as its evidence's last check (a later check replaces an earlier one)."""
    for attempt in range(3):
        with Session(engine) as session:
            for f in found:
                key = evidence_check_key(f.transition_id, f.evidence, f.sha256)
                row = session.get(EvidenceCheck, key) or EvidenceCheck(
                    id=key, transition_id=f.transition_id, sha256=f.sha256, verdict=f.verdict, checked_at=f.at
                )
                row.verdict, row.checked_at, row.problem = f.verdict, f.at, (f.problem or None) and f.problem[:500]
                row.now_sha256, row.now_size = f.now_sha256, f.now_size
                session.add(row)
            try:
                session.commit()
                return
            except IntegrityError:  # another writer added the same check first: write over it
                if attempt == 2:
                    raise


def last_checks(engine: Engine, transition_id: str) -> dict[str, EvidenceCheck]:
    """Every recorded check of a transition's pinned evidence, by `evidence_check_key` (as text)."""
    with Session(engine) as session:
        rows = session.exec(select(EvidenceCheck).where(EvidenceCheck.transition_id == transition_id)).all()
        return {str(r.id): r for r in rows}
