"""One way to tell a person what is wrong with what they gave, and where: a pydantic
`ValidationError` in our words, never pydantic's ("Input should be ...", "Field required").

The command line, the plan loader, the web app's forms and API, the readings file and the
workflow's signals all describe a refusal of their input through `describe` (or, with a place of
their own such as a file's line, through `sentence`), so the same mistake reads the same
everywhere; each caller only says how a person names the place (``--period``, ``values.csat``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pydantic import ValidationError

Path_ = tuple[str | int, ...]


def render_path(path: Path_) -> str:
    """``('phases', 3, 'gates', 0)`` as ``phases[3].gates[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def clean_path(loc: Path_, tags: Collection[str] = ()) -> Path_:
    """The place a person knows, from pydantic's location: the parts pydantic adds for its own
    bookkeeping (``function-after[...]``, ``list[...]``, a dict key's ``[key]``) and the union
    members it tried (``tags``, for example the gate kinds) go."""
    return tuple(p for p in loc if isinstance(p, int) or (p not in tags and "[" not in p))


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown[:60] + "..." if len(shown) > 60 else shown


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


_PARSING = {
    "int": "a whole number",
    "float": "a number",
    "decimal": "a number",
    "bool": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "date_from_datetime": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (YYYY-MM-DDTHH:MM)",
    "datetime_from_date": "a date and time (YYYY-MM-DDTHH:MM)",
    "time": "a time of day (HH:MM)",
    "time_delta": "a duration",
    "uuid": "a UUID",
    "url": "a URL",
    "string": "text",
    "list": "a list",
    "tuple": "a list",
    "set": "a list",
    "dict": "a mapping of keys to values",
    "model": "a mapping of keys to values",
    "model_attributes": "a mapping of keys to values",
    "json": "valid JSON",
    "enum": "one of the names allowed here",
    "finite_number": "a finite number",
    "bytes": "text",
}
"""What a ``<kind>_parsing``, ``<kind>_type`` or ``<kind>_from_...`` error needed, in words."""


def _bound(kind: str, ctx: Mapping[str, Any], error: Mapping[str, Any]) -> str | None:
    """Sentences for the length and size bounds."""
    value = error.get("input")
    text = isinstance(value, str)
    if kind == "string_too_short" or (kind == "too_short" and text):
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {_plural(least, 'character')} long"
    if kind == "string_too_long" or (kind == "too_long" and text):
        given = f" (it has {len(value)})" if isinstance(value, str) else ""
        return f"is too long: at most {_plural(ctx.get('max_length'), 'character')}{given}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"needs at least {_plural(least, 'item')}"
    if kind == "too_long":
        return f"takes at most {_plural(ctx.get('max_length'), 'item')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"must be {ctx.get('ge')} or more"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"must be {ctx.get('le')} or less"
    if kind == "multiple_of":
        return f"must be a multiple of {ctx.get('multiple_of')}"
    if kind == "decimal_max_places":  # money: amounts are to the cent
        return f"takes at most {_plural(ctx.get('decimal_places'), 'decimal place')}"
    if kind == "decimal_max_digits":
        return f"takes at most {_plural(ctx.get('max_digits'), 'digit')}"
    return None


_KEYS = {
    r"^[a-z][a-z0-9_]*$": "must be a key: lowercase letters, digits and '_', starting with a letter",
    r"^[a-z0-9_]+$": "must be a key: lowercase letters, digits and '_'",
}
"""The patterns of keys (a cost's category, a gate, a feed, a workstream), in words."""


def _form(pattern: str, value: object) -> str:
    """What a value refused by ``pattern`` should look like: a key's form and, made of what was
    typed, one that would do (``Office Travel`` -> ``office_travel``)."""
    words = _KEYS.get(pattern)
    if words is None:
        return "is not in the form this field takes"
    mended = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_") if isinstance(value, str) else ""
    return f"{words}, such as '{mended}'" if re.fullmatch(pattern, mended) else words


def sentence(error: Mapping[str, Any], show_input: bool = True) -> str:
    """One of pydantic's errors (an item of ``ValidationError.errors()``) as a sentence without
    its place; with ``show_input``, a value the sentence does not quote is shown after it
    (``(got 'x')``) — pass False for what may hold a secret, such as settings."""
    kind, loc, ctx = str(error["type"]), tuple(error.get("loc", ())), error.get("ctx") or {}
    name = next((p for p in reversed(loc) if isinstance(p, str) and "[" not in p), "it")
    if kind == "missing":
        return f"'{name}' is required"
    if kind == "extra_forbidden":
        return f"unknown key '{name}'"
    if kind == "union_tag_invalid":
        return f"unknown kind '{ctx.get('tag')}'; known: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"needs its {ctx.get('discriminator', 'kind')} key to say which kind it is"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'cannot be read')})"
    message = _bound(kind, ctx, error)
    if message is None:
        if kind in ("value_error", "assertion_error"):
            message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        elif kind == "string_pattern_mismatch":
            message = _form(str(ctx.get("pattern", "")), error.get("input"))
        elif kind in ("literal_error", "enum"):
            message = f"must be one of {ctx.get('expected')}"
        elif kind in ("union_type", "model_type") or kind.startswith(("dict", "model")):
            message = f"must be {_PARSING['dict']}"
        else:
            stem = kind.removesuffix("_parsing").removesuffix("_type").split("_from_")[0]
            needed = _PARSING.get(kind.removesuffix("_parsing").removesuffix("_type"), _PARSING.get(stem))
            # Anything else: pydantic's own words, turned to ours where they speak to "Input".
            message = f"must be {needed}" if needed else str(error["msg"]).replace("Input should be", "must be")
    value = error.get("input")
    # A length says enough about the value; anything else is easier to mend seeing it.
    shown = show_input and not kind.startswith(("string_too", "too_"))
    if shown and not isinstance(value, (dict, list)) and repr(value) not in message:
        message += f" (got {_shown(value)})"
    return message


def describe(
    error: ValidationError | list[Any],
    where: Callable[[Path_], str] = render_path,
    tags: Collection[str] = (),
    show_input: bool = True,
) -> str:
    """Everything wrong with an input, one ``place: sentence`` per problem, joined by ``; ``.

    Args:
        error: a `ValidationError`, or its ``errors()`` (FastAPI hands over the list).
        where: how a person names a place from its path (``--period``, ``values.csat``); a
            problem of the whole input has no place and reads as the sentence alone.
        tags: the union members pydantic puts into a location (the gate kinds) to leave out.
        show_input: show the value given after the sentence; False where it may be a secret.
    """
    errors = error.errors() if isinstance(error, ValidationError) else error
    problems = []
    for each in errors:
        path = clean_path(tuple(each.get("loc", ())), tags)
        place = where(path) if path and each.get("type") != "json_invalid" else ""
        said = sentence(each, show_input)
        problems.append(f"{place}: {said}" if place else said)
    return "; ".join(dict.fromkeys(problems))
