"""Reading KPI readings from a CSV file (``period,metric,value``): all of them, or every problem.

The file is read whole before anything is sent, so a bad row anywhere records nothing; each
problem names its line, as the plan loader does.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from models.commands import ReadingsBatch, RecordReadings
from models.errors import describe
from models.readings import BadReading, reading_value

MAX_CSV_BYTES = 2 * 1024 * 1024
HEADER = ["period", "metric", "value"]
SHOWN = 20


@dataclass
class ReadingsFileError(Exception):
    """A readings file that records nothing, with each problem and its place (``file:line: ...``)."""

    problems: list[str]
    heading: str | None = None

    def __str__(self) -> str:
        shown = self.problems[:SHOWN]
        if len(self.problems) > SHOWN:
            shown.append(f"... and {len(self.problems) - SHOWN} more")
        return "\n".join([self.heading, *shown] if self.heading else shown)


def read_limited(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a file, so /dev/zero or a huge file cannot hang us."""
    try:
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as exc:
        raise ReadingsFileError([f"cannot read {path}: {exc.strerror}"]) from None


def parse_readings(raw: bytes, path: str, known: list[str], by: str | None = None) -> ReadingsBatch:
    """The readings in a CSV file's bytes, one batch per period, or `ReadingsFileError`.

    ``known`` are the plan's KPI keys; ``by`` is who recorded the readings.
    """
    if len(raw) > MAX_CSV_BYTES:
        raise ReadingsFileError([f"{path} is larger than {MAX_CSV_BYTES // 1024 // 1024} MiB; split it"])
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReadingsFileError([f"{path} is not a UTF-8 CSV file: {exc}"]) from None
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        raise ReadingsFileError([f"{path}:1: the first line must be the header period,metric,value"])
    periods: dict[str, dict[str, float]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            problems.append(f"{path}:{line}: expected 3 columns (period,metric,value), found {len(row)}")
            continue
        period, metric, value = (cell.strip() for cell in row)
        if metric not in known:
            problems.append(f"{path}:{line}: unknown metric '{metric[:40]}'; the plan's KPIs: {', '.join(known)}")
            continue
        try:
            batch = RecordReadings(period=period, values={metric: reading_value(metric, value)})
        except (BadReading, ValidationError) as exc:
            reason = describe(exc) if isinstance(exc, ValidationError) else str(exc)
            problems.append(f"{path}:{line}: {period[:30]},{metric[:30]},{value[:30]}: {reason}")
            continue
        if (batch.period, metric) in first_seen:
            problems.append(
                f"{path}:{line}: {metric} for {batch.period} is already on line {first_seen[batch.period, metric]}; "
                "a reading is recorded once"
            )
            continue
        first_seen[batch.period, metric] = line
        periods.setdefault(batch.period, {}).update(batch.values)
    if problems:
        raise ReadingsFileError(problems, heading="nothing was recorded; fix these rows:")
    if not periods:
        raise ReadingsFileError([f"{path} has no readings under its header"])
    batches = [RecordReadings(period=p, values=v, by=by) for p, v in periods.items()]
    if len(batches) > 2000:
        raise ReadingsFileError([f"{path} has readings for {len(batches)} periods; at most 2000 go in one file"])
    return ReadingsBatch(batches=batches)
