"""What a KPI reading may be: a finite number, not negative (readings are counts, rates or
amounts). The command line, a readings file, the web app's form and API, the command model the
workflow decodes and a feed's parsing all check a reading here, and refuse it in the same words."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal


class BadReading(ValueError):
    """A KPI reading that is not a number, not finite, or negative; the message names the metric.

    A `ValueError`, so a pydantic validator that lets it through refuses with its words.
    """

    def __init__(self, message: str, why: Literal["not_a_number", "not_finite", "negative"]) -> None:
        super().__init__(message)
        self.why = why


def _kind(value: object) -> str:
    return {bool: "true or false", dict: "an object", list: "a list", type(None): "null"}.get(type(value), "a value")


def reading_value(metric: str, value: object, quote: bool = True) -> float:
    """``value`` (a number, or text a person or a source gave) as ``metric``'s reading, or
    `BadReading`.

    Args:
        metric: the KPI's key, named in the refusal.
        value: what was given.
        quote: whether text that is not a number is repeated in the refusal; False for a feed,
            whose source may hold anything in its place (a name, a secret).
    """
    number = finite_value(metric, value, quote)
    if number < 0:
        raise BadReading(f"{metric}: {number:g} is negative; KPI readings are counts, rates or amounts", "negative")
    return number


def finite_value(metric: str, value: object, quote: bool = True) -> float:
    """``value`` as a finite number named ``metric`` (a reading, a scorecard's score), or
    `BadReading`; arguments as `reading_value`'s."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise BadReading(f"{metric}: {_kind(value)} is not a number", "not_a_number")
    try:
        number = float(value)
    except ValueError:
        shown = f"'{str(value)[:40]}'" if quote else "text"
        raise BadReading(f"{metric}: {shown} is not a number", "not_a_number") from None
    if not math.isfinite(number):
        raise BadReading(f"{metric}: {number:g} is not a finite number", "not_finite")
    return number
