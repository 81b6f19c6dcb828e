"""The Jinja2 filters every page and document shares: the web app's templates and the reports
(`bpo.documents`) register the same ones, so a time reads the same in both."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

from bpo.render import local_time, when
from models.names import gate_name, in_words, phase_name
from models.plan import Plan

DASH = "—"
PERIOD_WORDS = {"daily": "day", "weekly": "week", "monthly": "month"}


def utc(moment: datetime) -> datetime:
    """SQLite hands back times without their zone; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when_filter(moment: datetime | None) -> str:
    """``when``: the moment with how far off it is from now, ``—`` for none."""
    return when(utc(moment), datetime.now(UTC)) if moment else DASH


def day_filter(moment: datetime | None) -> str:
    """``day``: ``Mon 18 Jan 2027``, ``—`` for none."""
    return f"{moment:%a %d %b %Y}" if moment else DASH


def period_word(period: str) -> str | None:
    """``period_word``: ``weekly`` reads ``week``."""
    return PERIOD_WORDS.get(period)


def local_filter(moment: datetime | None, zone: str | None = None) -> str:
    """``local``: the moment in time zone ``zone`` (the plan calendar's), else UTC; ``—`` for none."""
    return local_time(utc(moment), zone) if moment else DASH


def phase_filter(key: str | None, plan: Plan | None = None) -> str:
    """``phase_name``: a phase's key as people read it, the plan's name for it if ``plan`` is
    given (else the key in words); ``—`` for none."""
    if not key:
        return DASH
    return phase_name(plan, key) if plan is not None else in_words(key)


def gate_filter(key: str | None, plan: Plan | None = None) -> str:
    """``gate_name``: a gate's key as people read it, its name in ``plan`` if given (else the key
    in words); ``—`` for none."""
    if not key:
        return DASH
    return gate_name(plan, key) if plan is not None else in_words(key)


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when_filter,
    "day": day_filter,
    "period_word": period_word,
    "local": local_filter,
    "phase_name": phase_filter,
    "gate_name": gate_filter,
}


def register(env: Environment) -> Environment:
    """Add the shared filters to ``env``; ``env`` back."""
    env.filters.update(FILTERS)
    return env
