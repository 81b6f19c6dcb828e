"""The Jinja2 environment the reports render through (`bpo report`, `bpo qbr`).

Autoescaped, with the web app's filters (`bpo.filters`), loading from ``bpo/templates`` in the
installed package so an installed ``bpo`` finds them. Undefined names raise rather than print
nothing: a misspelt field in a template is a bug, not an empty cell.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bpo.filters import register


@cache
def environment() -> Environment:
    """The one environment, built on first use."""
    env = Environment(
        loader=PackageLoader("bpo", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return register(env)


def render(name: str, **context: Any) -> str:
    """Template ``name`` of ``bpo/templates`` rendered with ``context``."""
    return environment().get_template(name).render(**context)
