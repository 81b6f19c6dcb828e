"""Compose's interpolation, as its specification documents it, for a machine without Docker.

The rules (compose-spec, "Interpolation"): ``$NAME`` and ``${NAME}`` are the variable's value
(empty, with a warning, when unset); ``${NAME:-default}`` the default when unset or empty,
``${NAME-default}`` only when unset; ``${NAME:?error}`` stops with the error when unset or empty,
``${NAME?error}`` only when unset; ``${NAME:+other}`` is ``other`` when set and not empty,
``${NAME+other}`` when set; defaults and messages may themselves hold ``${...}``; ``$$`` is a
literal ``$``; any other ``$`` is an invalid template. Every string value of the file is
interpolated, every service's, before profiles are applied (docker/compose#11977): a required
variable of an inactive profile stops ``docker compose up`` all the same.
"""

from __future__ import annotations

import re
from typing import Any

NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")


class InterpolationError(ValueError):
    """What Compose refuses with: a required variable missing, or a malformed ``$``."""


def read_env_file(text: str) -> dict[str, str]:
    """A ``.env`` file as Compose reads it: ``NAME=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:  # an inline comment after an unquoted value
            value = value.split(" #", 1)[0].rstrip()
        values[name.strip()] = value
    return values


def _braced_end(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` at ``start``, nested ``${...}`` counted."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise InterpolationError(f"invalid template: unclosed '${{' in {text!r}")


def interpolate(text: str, env: dict[str, str], where: str = "") -> str:
    """``text`` with every variable replaced as Compose does, or `InterpolationError`."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        following = text[i + 1 : i + 2]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "{":
            end = _braced_end(text, i)
            out.append(_expression(text[i + 2 : end], env, where))
            i = end + 1
        elif (bare := NAME.match(text, i + 1)) is not None:
            out.append(env.get(bare.group(), ""))
            i = bare.end()
        else:
            raise InterpolationError(f"{where}: invalid template: a '$' not followed by a name in {text!r}")
    return "".join(out)


def _expression(body: str, env: dict[str, str], where: str) -> str:
    name = NAME.match(body)
    if name is None:
        raise InterpolationError(f"{where}: invalid template: '${{{body}}}'")
    var, rest = name.group(), body[name.end() :]
    value, is_set = env.get(var), var in env
    if not rest:
        return value or ""
    for operator in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            break
    else:
        raise InterpolationError(f"{where}: invalid template: '${{{body}}}'")
    filled = is_set and value != "" if operator.startswith(":") else is_set
    if operator.endswith("-"):
        return (value or "") if filled else interpolate(argument, env, where)
    if operator.endswith("?"):
        if not filled:
            raise InterpolationError(
                f"{where}: required variable {var} is missing a value: {interpolate(argument, env, where)}"
            )
        return value or ""
    return interpolate(argument, env, where) if filled else ""


def interpolate_file(document: Any, env: dict[str, str], where: str = "") -> Any:
    """Every string value of a loaded compose file (every service, every profile) interpolated."""
    if isinstance(document, dict):
        return {key: interpolate_file(value, env, f"{where}.{key}".lstrip(".")) for key, value in document.items()}
    if isinstance(document, list):
        return [interpolate_file(value, env, f"{where}[{n}]") for n, value in enumerate(document)]
    if isinstance(document, str):
        return interpolate(document, env, where)
    return document
