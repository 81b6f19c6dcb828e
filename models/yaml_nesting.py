"""How deep a YAML file nests, found without building it.

PyYAML builds a document by recursion, so a file nested a few hundred levels deep (``[[[[…]]]]``
fits in a plan's size) stops it with Python's ``RecursionError``. Its parser is not recursive: the
events it yields are counted here first, and a file deeper than any plan or connections file
needs is refused with the line where it goes too deep.
"""

from __future__ import annotations

import yaml

MAX_DEPTH = 64
"""Levels of mappings and lists a file may nest; a plan uses about eight."""
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels of mappings and lists"
"""What to tell the author of a file `too_deep` refused."""


def too_deep(text: str) -> int | None:
    """The line (from 1) where ``text`` nests deeper than `MAX_DEPTH` levels, or None.

    Text that is not valid YAML is None too: the reader that parses it next says what is wrong.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark.line + 1 if event.start_mark else 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None
