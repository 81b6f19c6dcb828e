"""`bpo export`: a trail's rows for a spreadsheet, exactly the trail's, with every formula-looking
text kept as text, times in ISO form with their zone; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from infra.audit import write_entries
from infra.db import make_engine
from infra.exports import WHATS, export_rows, neutral
from starter import build_parser
from tests.test_analytics import DANA, RAJ, T1, bpo, portfolio, trail  # noqa: F401 (bpo: the fixture)

FORMULA = '=HYPERLINK("http://evil.example","click")'


def rows() -> list:
    extra = trail("acme-1x", T1, [
        (1, "noted", {"actor": DANA, "note": FORMULA}),
        (2, "noted", {"actor": RAJ, "note": "+1 for the plan"}),
        (3, "kpi_reading", {"actor": RAJ, "period": "2027-W01", "values": {"csat": 91.5, "aht": 300}}),
        (4, "raid_added", {"actor": DANA, "item": "R-1", "kind": "risk", "note": "@ vendor late"}),
        (5, "settlement", {"period": 1, "credit": 1200.0, "currency": "EUR", "breaches": ["csat"]}),
    ])  # fmt: skip
    return portfolio() + extra


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain = fine", "plain = fine"),
        (-3.5, -3.5),
        (datetime(2027, 1, 4, 9, tzinfo=UTC), "2027-01-04T09:00:00+00:00"),
        (datetime(2027, 1, 4, 9), "2027-01-04T09:00:00+00:00"),
        (["a", "=b"], "a; =b"),
    ],
)
def test_a_text_a_spreadsheet_would_run_is_kept_as_text(value, cell):
    assert neutral(value) == cell


def test_an_export_holds_exactly_the_trails_rows_of_its_kind(engine):
    with Session(engine) as session:
        write_entries(rows(), session=session)
    header, decisions = export_rows(engine, "decisions", "acme-1")
    kinds = [r[header.index("kind")] for r in decisions]
    assert kinds == ["approved", "approved", "rejected", "approved", "paused", "resumed", "waived"]
    assert decisions[2][header.index("note")] == "'=cmd"
    assert decisions[0][header.index("at")] == "2027-01-04T19:00:00+00:00"
    _, every = export_rows(engine, "decisions", None)
    assert len(every) == 7 + 2 + 1 + 2  # acme-1, acme-2, globex-1, acme-1x's notes (its RAID item is in raid)
    header, readings = export_rows(engine, "readings", None)
    assert sorted((r[header.index("metric")], r[header.index("value")]) for r in readings) == [("aht", 300), ("csat", 91.5)]
    header, raid = export_rows(engine, "raid", None)
    assert [(r[header.index("item")], r[header.index("note")]) for r in raid] == [("R-1", "'@ vendor late")]
    header, settled = export_rows(engine, "settlements", None)
    assert [(r[header.index("credit")], r[header.index("currency")], r[header.index("breaches")]) for r in settled] == [
        (1200.0, "EUR", "csat")
    ]
    header, escalations = export_rows(engine, "escalations", None)
    assert [(r[header.index("transition_id")], r[header.index("level")]) for r in escalations] == [("acme-1", 1)]


def test_the_cli_offers_every_export_there_is():
    parser = build_parser()
    export = next(a for a in parser._subparsers._group_actions[0].choices["export"]._actions if a.dest == "what")
    assert tuple(export.choices) == WHATS


def test_bpo_export_writes_csv_and_xlsx_that_open_with_the_formula_as_text(bpo, tmp_path: Path):  # noqa: F811
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    with Session(engine) as session:
        write_entries(rows(), session=session)
    code, out, _ = bpo("export", "acme-1x", "--what", "decisions", "--out", str(tmp_path / "d.csv"))
    assert code == 0 and "2 rows of decisions" in out
    read = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["by"], r["note"]) for r in read] == [(DANA, "'" + FORMULA), (RAJ, "'+1 for the plan")]
    assert read[0]["at"] == (T1 + timedelta(hours=1)).isoformat()
    code, _, _ = bpo("export", "--all", "--what", "decisions", "--format", "xlsx", "--out", str(tmp_path / "d.xlsx"))
    assert code == 0
    sheet = load_workbook(tmp_path / "d.xlsx").active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value and str(c.value).endswith("click\")")]
    assert [(c.value, c.data_type) for c in cells] == [("'" + FORMULA, "s")]
    assert sheet.max_row == 1 + 12


def test_bpo_export_refuses_what_it_cannot_do_in_words(bpo, tmp_path: Path):  # noqa: F811
    make_engine(f"sqlite:///{tmp_path}/audit.db")
    code, _, err = bpo("export", "--what", "raid", "--out", str(tmp_path / "r.csv"))
    assert code == 2 and "name one transition's ID, or --all" in err
    code, _, err = bpo("export", "t1", "--what", "raid", "--out", str(tmp_path / "nowhere" / "r.csv"))
    assert code == 2 and "there is no folder" in err
    code, _, err = bpo("export", "t1", "--what", "raid", "--out", str(tmp_path / "r.csv"))
    assert code == 0 and "has no raid for 't1'" in err


def test_a_costs_export_holds_each_cost_recorded_its_amount_a_number_and_its_note_as_text(engine):
    costs = trail("acme-9", T1, [
        (1, "cost_recorded", {"actor": DANA, "note": "-flights to Manila", "amount": "1250.50", "category": "travel",
                              "currency": "EUR"}),
        (2, "noted", {"actor": DANA, "note": "not a cost"}),
        (3, "cost_recorded", {"actor": DANA, "note": "exit packages", "amount": "40000.00", "category": "severance",
                              "currency": "EUR"}),
    ])  # fmt: skip
    with Session(engine) as session:
        write_entries(costs, session=session)
    header, rows = export_rows(engine, "costs", "acme-9")
    assert header[3:] == ["amount", "currency", "category", "by", "via", "note"]
    got = [(r[header.index("amount")], r[header.index("category")], r[header.index("note")]) for r in rows]
    assert got == [(1250.5, "travel", "'-flights to Manila"), (40000.0, "severance", "exit packages")]


def test_no_out_writes_over_the_engines_own_data_or_a_database(bpo, monkeypatch, tmp_path: Path):  # noqa: F811
    """`--out` is the one path a person types that the command writes over: the audit database
    (wherever DATABASE_URL puts it), the engine's keys and logs, or any other database are refused
    before a byte is written, for `bpo export` and for report, calendar and qbr alike."""
    from bpo.commands.common import Exit, write_out
    from infra.settings import Settings

    elsewhere = tmp_path / "trail"
    elsewhere.mkdir()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{elsewhere}/audit.db")
    # Closed now: a connection left to the collector would checkpoint its WAL into the file later.
    make_engine(f"sqlite:///{elsewhere}/audit.db").dispose()
    other = tmp_path / "crm.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "worker.log").write_text("{}")
    (tmp_path / "audit-mark.key").write_text("k")
    for target in (elsewhere / "audit.db", other, tmp_path / "logs" / "worker.log", tmp_path / "audit-mark.key"):
        before = target.read_bytes()
        code, _, err = bpo("export", "t1", "--what", "costs", "--out", str(target))
        assert code == 2 and "write over" in err and "Error" not in err, (target, err)
        with pytest.raises(Exit, match="write over"):
            write_out("BEGIN:VCALENDAR", str(target), "calendar", Settings(BPO_DATA_DIR=tmp_path))
        assert target.read_bytes() == before
    code, _, err = bpo("report", "t1", "--out", str(tmp_path))
    assert code == 2 and f"{tmp_path} is a folder" in err, err
    code, _, _ = bpo("export", "t1", "--what", "costs", "--out", str(tmp_path / "costs.csv"))
    assert code == 0 and (tmp_path / "costs.csv").read_bytes().startswith(b"\xef\xbb\xbf")
