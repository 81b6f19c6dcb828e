"""Durations as plans write them: ``45s``, ``30m``, ``36h``, ``14d``, ``2w`` or ISO 8601 count
wall-clock time; ``5bd`` (business days) and ``16bh`` (business hours) count only the working time
of the plan's calendar."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, WithJsonSchema

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_BUSINESS = re.compile(r"^\s*(\d+)\s*(bd|bh)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_SECONDS, MAX_SECONDS = 1, 10 * 365 * 86400
"""Shorter would serialise as nothing; longer overflows the clocks the rules compute."""


def parse_duration(value: Any) -> timedelta:
    """Turn a plan's duration into a ``timedelta``.

    Raises:
        ValueError: with the accepted forms, when ``value`` is none of them.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _SHORT.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    elif isinstance(value, str) and value.strip() not in ("P", "PT") and (m := _ISO.match(value.strip())):
        parts = {k: float(v) for k, v in m.groupdict().items() if v}
        if not parts:
            raise ValueError(f"'{value}' is not a duration")
        seconds = sum(n * _UNIT_SECONDS[u] for u, n in parts.items())
    else:
        raise ValueError(f"'{value}' is not a duration; write 45s, 30m, 36h, 14d, 2w or ISO 8601 such as P14D, PT36H")
    if seconds < MIN_SECONDS:
        raise ValueError(f"'{value}' is shorter than 1s; durations run from 1s to 10 years")
    if seconds > MAX_SECONDS:
        raise ValueError(f"'{value}' is longer than 10 years; durations run from 1s to 10 years")
    if seconds != int(seconds):
        raise ValueError(f"'{value}' is not a whole number of seconds")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest plan form of ``value`` (``14d``, ``36h``, ``90s``)."""
    seconds = int(value.total_seconds())
    for unit in "wdhm":
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def spoken(delta: timedelta) -> str:
    """A duration as a person says it: ``3d 4h``, ``2h 5m``, ``40s`` (negative reads as zero)."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else f"{secs}s"


def spoken_business(seconds: float, day_seconds: float) -> str:
    """Business time as a person says it: ``2bd 3h``, ``5h 30m`` (negative reads as zero)."""
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, int(day_seconds))
    if not days:
        return spoken(timedelta(seconds=rest))
    hours = rest // 3600
    return f"{days}bd {hours}h" if hours else f"{days}bd"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A positive duration read from a plan and written back in the plan's own form."""


class BusinessTime(NamedTuple):
    """A duration in the plan calendar's working time: ``amount`` business days or hours."""

    amount: int
    unit: Literal["bd", "bh"]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def seconds(self, day_seconds: float) -> float:
        """Working seconds, a business day being ``day_seconds`` of working time."""
        return self.amount * (day_seconds if self.unit == "bd" else 3600.0)


MAX_BUSINESS = {"bd": 10 * 260, "bh": 10 * 260 * 24}
"""Ten years of working days (or hours): the same bound as wall-clock durations."""


def parse_span(value: Any) -> timedelta | BusinessTime:
    """A plan's duration in wall-clock time (``14d``) or business time (``5bd``, ``16bh``).

    Raises:
        ValueError: with the accepted forms, when ``value`` is none of them.
    """
    if isinstance(value, BusinessTime):
        return value
    if isinstance(value, str) and (m := _BUSINESS.match(value)):
        amount, unit = int(m.group(1)), m.group(2)
        if not 1 <= amount <= MAX_BUSINESS[unit]:
            raise ValueError(
                f"'{value}' is out of range; business durations run from 1{unit} to {MAX_BUSINESS[unit]}{unit}"
            )
        return BusinessTime(amount, "bd" if unit == "bd" else "bh")
    try:
        return parse_duration(value)
    except ValueError as e:
        raise ValueError(f"{e}; or in business time, 5bd or 16bh") from None


def format_span(value: timedelta | BusinessTime) -> str:
    """The plan form of a wall-clock or business duration."""
    return str(value) if isinstance(value, BusinessTime) else format_duration(value)


Span = Annotated[
    timedelta | BusinessTime,
    PlainValidator(parse_span),
    PlainSerializer(format_span, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["14d", "36h", "5bd", "16bh"]}),
]
"""A duration in wall-clock time or in business time, as the plan writes it."""
