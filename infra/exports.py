"""A trail's rows for a spreadsheet: the decisions, KPI readings, RAID log, settlements,
escalations or costs recorded of one transition or of all, read from the audit database as typed events
(`models.audit_events`), one row each (a reading, one row per metric), as CSV or xlsx.

Every text a person typed may reach a spreadsheet that reads ``=HYPERLINK(...)`` as a formula:
a text that starts with ``= + - @``, a tab or a carriage return is written with a leading
apostrophe (`neutral`), which spreadsheets show as text. Numbers stay numbers; times are ISO 8601
with their zone (UTC).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine
from sqlalchemy import select as columns

from models.audit_events import EVENTS, event_of
from models.audit_events.base import Event
from models.audit_events.decisions import CostRecorded, Decision, RaidAdded, RaidClosed
from models.audit_events.happenings import RaidEscalated, Readings, Settled
from models.tables import AuditRecord

What = Literal["decisions", "readings", "raid", "settlements", "escalations", "costs"]
Format = Literal["csv", "xlsx"]
WHATS: tuple[str, ...] = get_args(What)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
Cell = str | int | float | bool | None


def neutral(value: object) -> Cell:
    """A value as a cell: a time in ISO form with its zone, a number as itself, a text that a
    spreadsheet could read as a formula behind a leading apostrophe, a list joined by ``; ``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):  # UTC whatever the zone PostgreSQL answers in
        return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def _decision(e: Event) -> Iterator[dict[str, Any]]:
    assert isinstance(e, Decision)
    yield {"kind": e.kind, "gate": e.gate, "by": e.actor, "via": e.via, "note": e.note}


def _reading(e: Event) -> Iterator[dict[str, Any]]:
    assert isinstance(e, Readings)
    for metric, value in e.values.items():
        yield {
            "kind": e.kind, "period": e.period, "metric": metric, "value": value, "by": e.actor, "via": e.via,
            "feed": e.feed, "reason": getattr(e, "reason", None),
        }  # fmt: skip


def _raid(e: Event) -> Iterator[dict[str, Any]]:
    assert isinstance(e, (RaidAdded, RaidClosed, RaidEscalated))
    yield {
        "kind": e.kind, "item": e.item, "item_kind": getattr(e, "item_kind", None), "blocks": e.gate, "by": e.actor,
        "note": getattr(e, "note", None), "severity": getattr(e, "severity", None),
    }  # fmt: skip


def _settlement(e: Event) -> Iterator[dict[str, Any]]:
    assert isinstance(e, Settled)
    yield {
        "period": e.period, "from": e.from_, "to": e.to, "contract_year": e.contract_year,
        "credit_percent": e.credit_percent, "capped": e.capped, "credit": e.credit, "bonus": e.bonus,
        "currency": e.currency, "breaches": e.breaches,
    }  # fmt: skip


def _escalation(e: Event) -> Iterator[dict[str, Any]]:
    yield {
        "kind": e.kind, "gate": e.gate, "level": getattr(e, "level", None), "late_by": getattr(e, "late_by", None),
        "health": getattr(e, "health", None), "open_gates": getattr(e, "open_gates", None), "by": e.actor,
        "note": getattr(e, "note", None),
    }  # fmt: skip


def _cost(e: Event) -> Iterator[dict[str, Any]]:
    assert isinstance(e, CostRecorded)
    amount = float(e.amount) if e.amount is not None else None  # a number in the sheet, to the cent
    yield {
        "amount": amount,
        "currency": e.currency,
        "category": e.category,
        "by": e.actor,
        "via": e.via,
        "note": e.note,
    }


def _decision_kinds() -> tuple[str, ...]:
    return tuple(k for k, model in EVENTS.items() if issubclass(model, Decision) and not k.startswith("raid_"))


EXPORTS: dict[str, tuple[tuple[str, ...], Callable[[Event], Iterator[dict[str, Any]]]]] = {
    "decisions": (_decision_kinds(), _decision),
    "readings": (("kpi_reading", "kpi_corrected"), _reading),
    "raid": (("raid_added", "raid_closed", "raid_escalated"), _raid),
    "settlements": (("settlement",), _settlement),
    "escalations": (("escalation", "escalated"), _escalation),
    "costs": (("cost_recorded",), _cost),
}
"""Each export: the kinds of row it reads, and the spreadsheet rows each makes."""

COMMON = ("transition_id", "at", "phase")
EVENT_COLUMNS = ("kind", "transition_id", "phase", "gate", "actor", "at", "via", "detail")
"""The columns of a row `models.audit_events.event_of` reads."""


def export_rows(engine: Engine, what: What, transition_id: str | None) -> tuple[list[str], list[list[Cell]]]:
    """The header and the neutralised rows of one export, of one transition (none: of all), in the
    order they happened."""
    kinds, rows_of = EXPORTS[what]
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    # The columns an event reads, not an object per row: a year of a portfolio is many rows.
    statement = columns(*(table.c[name] for name in EVENT_COLUMNS)).where(table.c.kind.in_(kinds))
    if transition_id is not None:
        statement = statement.where(table.c.transition_id == transition_id)
    statement = statement.order_by(table.c.transition_id, table.c.at, table.c.position)
    header: list[str] = list(COMMON)
    found: list[dict[str, Any]] = []
    with engine.connect() as connection:
        for record in connection.execute(statement):
            event = event_of(record)
            for row in rows_of(event):
                found.append({"transition_id": event.transition_id, "at": event.at, "phase": event.phase, **row})
                header += [k for k in row if k not in header]
    return header, [[neutral(row.get(k)) for k in header] for row in found]


def to_csv(header: list[str], rows: list[list[Cell]]) -> bytes:
    """The rows as CSV, UTF-8 with a byte-order mark so a spreadsheet reads the accents right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if c is None else c for c in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(header: list[str], rows: list[list[Cell]], title: str) -> bytes:
    """The rows as one sheet of an xlsx workbook; every text a string cell, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(header)
    for row in rows:  # a control character (a pasted bell) no xlsx may hold stands as U+FFFD
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export(engine: Engine, what: What, transition_id: str | None, fmt: Format) -> bytes:
    """One export, as the bytes of its file."""
    header, rows = export_rows(engine, what, transition_id)
    return to_csv(header, rows) if fmt == "csv" else to_xlsx(header, rows, what)
