"""The small JSON path a feed's ``select`` is written in: ``$``, then ``.name``, ``["name"]`` or
``[0]`` steps, after ``{kpi}`` and ``{period}`` are filled in. Nothing more: no filters, no
wildcards, so a selector picks one value or says where it found nothing."""

from __future__ import annotations

import json
import re
from typing import Any

_STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]""")


def parse_path(path: str) -> list[str | int]:
    """The steps of ``path``; ValueError saying where it stops making sense."""
    if not path.startswith("$"):
        raise ValueError(f"a JSON selector starts with $, as in $.csat: '{path}'")
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        m = _STEP.match(path, at)
        if not m:
            raise ValueError(
                f"cannot read the selector '{path}' from character {at + 1}: write .name, [0] or [\"name\"]"
            )
        name, index, quoted = m.groups()
        steps.append(name if name is not None else int(index) if index is not None else json.loads(quoted))
        at = m.end()
    return steps


def pick(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``; LookupError naming the first step not found."""
    value = document
    walked = "$"
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                raise LookupError(f"no item [{step}] at {walked}")
            walked += f"[{step}]"
        else:
            if not isinstance(value, dict) or step not in value:
                raise LookupError(f"no field '{step}' at {walked}")
            walked += f".{step}"
        value = value[step]
    return value
