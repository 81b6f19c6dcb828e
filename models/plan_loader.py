"""Reading a plan file: YAML in, a checked `Plan` out, or every problem with its place in the file."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from models.boundary import boundary_check
from models.calendar_holidays import expand_holidays
from models.connections import Connections
from models.errors import Path_, render_path, sentence
from models.gates import GATE_KINDS
from models.plan import CHANNEL_SETTINGS, Plan
from models.plan_checks import channels_once, cross_check, reserved_names
from models.yaml_nesting import TOO_DEEP, too_deep

MAX_PLAN_BYTES = 512 * 1024
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan, and where."""

    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        """The problem as ``file:line: path: message``."""
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path or '(top)'}: {self.message}"


@dataclass
class PlanError(Exception):
    """A plan that cannot run, with every problem found in it."""

    problems: list[Problem]
    source: str = "plan"

    def __str__(self) -> str:
        return "\n".join(p.render(self.source) for p in self.problems)


@dataclass
class LoadedPlan:
    """A plan that passed every check, with the warnings a person should still read."""

    plan: Plan
    warnings: list[str] = field(default_factory=list)


class _Lines:
    """Line numbers of every key and item in a YAML document, by path."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[Problem] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    self.duplicates.append(
                        Problem(render_path(child), f"key '{key}' appears twice", key_node.start_mark.line + 1)
                    )
                seen.add(key)
                self._walk(value_node, child)
                self.lines[child] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def at(self, line: int) -> Path_:
        """The deepest path written on ``line``: the key (or list item) a value there belongs to."""
        return max((p for p, n in self.lines.items() if n == line), key=len, default=())

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor in the file."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


class _ImpossibleDate(Exception):
    """A value YAML reads as a date but no calendar has (2027-02-30), with its line."""

    def __init__(self, value: str, line: int, why: str) -> None:
        super().__init__(value)
        self.line = line
        self.message = f"{value} is not a day of the calendar ({why}): write a date that exists, as YYYY-MM-DD"


class _PlanLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, but an impossible date is a problem of the plan at its line.

    SafeLoader builds ``2027-02-30`` with ``datetime.date`` and lets its ValueError out, which a
    person would meet as a crash with no place in the file.
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """The date or datetime ``node`` writes, or `_ImpossibleDate` if the calendar has none."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise _ImpossibleDate(str(node.value), node.start_mark.line + 1, str(exc)) from None


_PlanLoader.add_constructor("tag:yaml.org,2002:timestamp", _PlanLoader.construct_yaml_timestamp)


def _references(data: Any, path: Path_, found: dict[Path_, list[str]]) -> None:
    """Every ``${NAME}`` in the plan's strings, by place."""
    if isinstance(data, str):
        if names := _VAR.findall(data):
            found[path] = names
    elif isinstance(data, dict):
        for k, v in data.items():
            _references(v, (*path, k), found)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _references(v, (*path, i), found)


def _clean_loc(loc: tuple[Any, ...]) -> Path_:
    # Pydantic puts the union member it tried into the location ('approval', 'list[...]');
    # a person wants the place in their file, so those parts go.
    # A member's tag follows the list index of the item it tried (``gates.1.approval``); the same
    # word elsewhere is a key of the plan (``workstreams``, a gate kind, is also a plan's key).
    tags = set(GATE_KINDS) | {"log", "webhook", "email"}
    return tuple(
        p
        for i, p in enumerate(loc)
        if isinstance(p, int)
        or ("[" not in p and "-" not in p and not (p in tags and i > 0 and isinstance(loc[i - 1], int)))
    )


def parse_plan(
    text: str,
    source: str = "plan",
    env: Mapping[str, str] | None = None,
    connections: Connections | None = None,
    kept: Collection[str] = (),
) -> LoadedPlan:
    """Parse and check a plan's YAML text.

    Args:
        text: the plan file's content.
        source: how to name the file in messages.
        env: where to look whether a ``${SETTING}`` a channel names is set, for a warning (the
            worker resolves it at delivery); the process environment by default.
        connections: the deployment's connections (``BPO_CONNECTIONS``) a plan may name; none
            by default.
        kept: gate keys a new version may keep though the engine reserves their names: those of
            the plan a running transition has (`models.plan_checks.reserved_names`).

    Raises:
        PlanError: with every problem found, each with its place in the file.
    """
    env = os.environ if env is None else env
    if len(text.encode("utf-8", "replace")) > MAX_PLAN_BYTES:
        raise PlanError([Problem("", f"the plan is larger than {MAX_PLAN_BYTES // 1024} KiB")], source)
    # The depth first: it stops at the level too deep, where the alias check scans every token,
    # and a half-megabyte ``[[[[…]]]]`` costs PyYAML's scanner minutes (it rechecks each open
    # bracket's possible key at every token).
    if (deep := too_deep(text)) is not None:
        raise PlanError([Problem("", f"the plan is {TOO_DEEP}", deep)], source)
    if alias := _first_alias(text):
        raise PlanError([alias], source)
    try:
        lines = _Lines(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.load(text, Loader=_PlanLoader)  # noqa: S506 - a SafeLoader: it refuses tags
    except _ImpossibleDate as exc:
        raise PlanError([Problem(render_path(lines.at(exc.line)), exc.message, exc.line)], source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: no mark, a position
            line, problem = text[: exc.position].count("\n") + 1, f"character {exc.character!r} is not allowed"
        else:
            line, problem = (mark.line + 1 if mark else 1), getattr(exc, "problem", None) or str(exc)
        raise PlanError([Problem("", f"not valid YAML: {problem}", line)], source) from None
    if lines.duplicates:
        raise PlanError(lines.duplicates, source)
    if not isinstance(data, dict):
        raise PlanError([Problem("", "a plan is a mapping of keys such as name, people and phases", 1)], source)

    # ${NAME} stays in the plan as written: the worker resolves it when it delivers, so no secret
    # a setting holds (a webhook's token, an SMTP password) enters Temporal's history.
    references: dict[Path_, list[str]] = {}
    _references(data, (), references)
    warnings: list[str] = []
    problems: list[Problem] = []
    for path, names in references.items():
        in_channel = path[:1] == ("notifications",) and len(path) == 3 and path[2] in ("url", "smtp")
        for name in names:
            if not in_channel or name not in CHANNEL_SETTINGS:
                allowed = ", ".join(f"${{{n}}}" for n in CHANNEL_SETTINGS)
                message = f"${{{name}}} is not a setting a plan may name; a channel's url or smtp may name {allowed}"
                problems.append(Problem(render_path(path), message, lines.line(path)))
            elif not env.get(name):
                kind = data["notifications"][path[1]].get("kind", "channel")
                warnings.append(
                    f"{render_path(path)}: {name} is not set here; a worker without it skips the {kind} channel"
                )

    # Today's date is safe here: a plan is read where a person gives it, never inside a workflow.
    for path, message in expand_holidays(data, date.today()):
        problems.append(Problem(render_path(path), message, lines.line(path)))
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = _clean_loc(error["loc"])
            problems.append(Problem(render_path(path), sentence(error), lines.line(path)))
        raise PlanError(problems, source) from None

    for path, message in [
        *cross_check(plan),
        *channels_once(plan),
        *reserved_names(plan, kept),
        *boundary_check(plan, connections or Connections()),
    ]:
        problems.append(Problem(render_path(path), message, lines.line(path)))
    if not problems and not _survives_the_converter(plan):
        problems.append(Problem("", "the plan does not come back the same through Temporal's data converter"))
    if problems:
        raise PlanError(problems, source)
    return LoadedPlan(plan, warnings)


def _first_alias(text: str) -> Problem | None:
    """An anchor or alias, which a plan never needs and a billion-laughs plan abuses; scanning
    the tokens finds one without expanding anything."""
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                what = "anchor '&" if isinstance(token, yaml.AnchorToken) else "alias '*"
                line = token.start_mark.line + 1
                return Problem("", f"YAML {what}{token.value}' is not allowed in a plan: write it out", line)
    except yaml.YAMLError:
        return None  # the parser below reports it, with its place
    return None


def _survives_the_converter(plan: Plan) -> bool:
    """Whether the plan decodes to itself after Temporal's data converter encoded it, as the
    workflow will decode it on every task."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    converter = pydantic_data_converter.payload_converter
    return converter.from_payload(converter.to_payload(plan), Plan) == plan


def load_plan(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    connections: Connections | None = None,
    kept: Collection[str] = (),
) -> LoadedPlan:
    """Read and check the plan file at ``path`` (see `parse_plan`)."""
    source = str(path)
    try:
        with open(path, "rb") as handle:  # read no more than the limit: /dev/zero is a file too
            raw = handle.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanError([Problem("", f"cannot read the plan: {exc.strerror}")], source) from None
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanError([Problem("", f"the plan is larger than {MAX_PLAN_BYTES // 1024} KiB")], source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError([Problem("", "the plan is not UTF-8 text")], source) from None
    return parse_plan(text, source, env, connections, kept)
