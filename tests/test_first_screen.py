"""The lines `bpo up` prints per event: what a person reads, from the audit trail's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bpo.first_screen import event_line
from models.tables import AuditRecord

AT = datetime(2026, 12, 5, 9, 14, 2, tzinfo=UTC)


def row(kind: str, **fields: Any) -> AuditRecord:
    return AuditRecord(
        id=uuid.uuid4(), event_id=str(uuid.uuid4()), transition_id="t1", kind=kind, phase="planning", at=AT, **fields
    )


def test_a_gate_decision_reads_as_who_decided_which_gate():
    line = event_line(row("approved", gate="slas_signed", actor="dana@acme.example"), set())
    assert line == "09:14:02  t1  gate slas_signed approved by dana@acme.example"


def test_a_notice_sent_through_several_channels_is_told_once_with_its_recipients():
    seen: set[str] = set()
    sent = {"notice": "t1/3", "subject": "[ACME Corp] Strategic planning begins", "recipients": ["li@acme.example"]}
    first = event_line(row("notification_sent", detail={**sent, "channel": "log"}), seen)
    again = event_line(row("notification_sent", detail={**sent, "channel": "webhook"}), seen)
    assert first == "09:14:02  t1  notice sent: [ACME Corp] Strategic planning begins (to li@acme.example)"
    assert again is None


def test_a_failed_notice_says_its_channel_and_why_and_bookkeeping_rows_say_nothing():
    failed = {"notice": "t1/4", "subject": "Escalation", "channel": "webhook", "error": "HTTP 404"}
    assert event_line(row("notification_failed", detail=failed), set()) == (
        "09:14:02  t1  notice failed: Escalation (by webhook: HTTP 404)"
    )
    assert event_line(row("phase_started"), set()) is None
