"""What the rules ask for: audit entries and notices, collected in an `Outbox` the workflow empties.

Every entry and notice gets an id of the transition and a sequence number kept in the state, so
an activity retried after a crash writes or sends it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from models.commands import Decided, Sent
from models.deliveries import AuditEntry, Delivery, Notice, Outbox, Recipient
from models.messages import Decision
from models.plan import Person
from models.signing import signed_fields
from workflows.rules.clock import View

MAX_DECISIONS = 300


class Recorder(View):
    """A view of the transition that may change it, and records what it changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outbox = Outbox()
        self.period_closed = False
        """Set when a steady-state period was settled: a good moment to continue as new."""
        self.signed_for: tuple[str, str | None] | None = None
        """While a workstream applies its program's command: the program's id and run family,
        which the command's signature covers (kept in its audit rows for `bpo audit --verify`)."""

    def _next_id(self) -> str:
        self.state.seq += 1
        run = f"{self.state.run_key}/" if self.state.run_key else ""
        return f"{self.state.id}/{run}{self.state.seq}"

    def audit(
        self,
        kind: str,
        now: datetime,
        *,
        gate: str | None = None,
        actor: str | None = None,
        detail: dict[str, Any] | None = None,
        command: Sent | None = None,
        signed: bool = True,
    ) -> None:
        """Add a line to the audit trail; for a ``command``, how its author was known, and (where
        ``signed``) its signature and what it covers, so anyone can check the sign-off later."""
        detail = dict(detail or {})
        if command is not None and command.operator:
            detail["operator"] = command.operator
        signed = signed and command is not None and bool(command.signature)
        if command is not None and signed:
            detail["signed"] = {"command": command.update, "fields": signed_fields(command)}
            if command.signed_at is not None:  # the run family the signature covers
                detail["signed"]["run"] = self.state.first_run_id or ""
            if self.signed_for is not None:  # a program's command, relayed: signed for the program
                detail["signed"]["transition"], detail["signed"]["run"] = self.signed_for[0], self.signed_for[1] or ""
        self.outbox.audit.append(
            AuditEntry(
                id=self._next_id(),
                transition_id=self.state.id,
                kind=kind,
                phase=self.phase_key,
                gate=gate,
                actor=actor,
                at=now,
                detail=detail,
                via=command.via if command else None,
                signature=command.signature if command and signed else None,
            )
        )

    def notify(
        self,
        kind: str,
        message: tuple[str, str],
        roles: Iterable[str],
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Tell everyone who holds one of ``roles``; ``message`` is a subject and a text."""
        self.tell(kind, message, self.holding(roles), now, detail)

    def tell(
        self,
        kind: str,
        message: tuple[str, str],
        people: list[Person],
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Tell ``people``; ``message`` is a subject and a text."""
        subject, text = message
        self.outbox.notices.append(
            Notice(
                id=self._next_id(),
                transition_id=self.state.id,
                kind=kind,
                subject=subject,
                text=text,
                at=now,
                recipients=[Recipient(id=p.id, name=p.name, email=p.address) for p in people],
                detail={"phase": self.phase_key, "health": self.state.health, **(detail or {})},
            )
        )

    def decided(
        self,
        kind: str,
        gate: str | None,
        command: Decided,
        now: datetime,
        note: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Keep a person's decision in the state's decision log and in the audit trail."""
        by = command.by
        decision = Decision(kind=kind, phase=self.phase_key, gate=gate, by=by, at=now, note=note, via=command.via)
        self.state.decisions = [*self.state.decisions, decision][-MAX_DECISIONS:]
        self.audit(kind, now, gate=gate, actor=by, detail={"note": note, **(detail or {})}, command=command)

    def delivery_failed(self, delivery: Delivery, error: str, now: datetime) -> None:
        """Note in the audit trail that a notice could not be delivered through a channel."""
        notice = delivery.notice
        detail = {
            "notice": notice.id,
            "channel": delivery.channel.kind,
            "about": notice.kind,
            "subject": notice.subject,
            "recipients": [r.id for r in notice.recipients],
            "error": error[:500],
        }
        self.audit("notification_failed", now, detail=detail)

    def take_outbox(self) -> Outbox:
        """What the rules asked for since the last call, emptied."""
        out, self.outbox = self.outbox, Outbox()
        return out
