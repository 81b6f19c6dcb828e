"""The floors of the house hold: every import, at the top of a module or inside a function, runs
from a floor to the same floor or one below, never up; the workflow imports neither its
activities nor the infrastructure; nothing imports the entry points `worker` and `starter`; no
modules import each other in a circle; and the rules and the models import without Temporal's
SDK. A worker image needs nothing of `bpo/`, and a reader can read each floor knowing only the
floors below it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOORS: dict[str, int] = {
    "models": 1,  # what crosses processes: the plan, commands, messages, tables
    "infra": 2,  # settings, database and audit trail, Temporal client and codec, transport, fetching
    "workflows": 3,  # the workflow and its pure rules
    "activities": 3,  # thin adapters over infra, registered on the worker
    "bpo": 4,  # the command line's commands, the web app, building the worker
    "worker": 5,  # entry points and what drives them from outside
    "starter": 5,
    "bench": 5,
    "examples": 5,
}
"""Each top-level room of the house and its floor; an import may run to its own floor or below."""

SAME_FLOOR_BANNED = {("workflows", "activities"), ("workflows", "infra")}
"""Imports the floors alone would allow but the house does not: the workflow calls activities by
name and reaches the outside world only through them."""

ENTRY_POINTS = {"worker", "starter"}
"""Scripts nothing in the house imports, so that the house runs without them (the bench, the
tests and the web app build what they need from below). One entry point may hand over to the other:
``bpo-worker`` and ``python worker.py`` are ``bpo worker``, with its messages and exit codes."""

HANDOVERS = {("worker", "starter")}

KNOWN_ELSEWHERE: set[frozenset[str]] = set()
"""Circles another branch is removing; a circle is excused only if all its modules are in one."""


def floors_in_words() -> str:
    """The floors from the top down, for a failure message (and the closing note)."""
    by_floor: dict[int, list[str]] = {}
    for room, floor in FLOORS.items():
        by_floor.setdefault(floor, []).append(room)
    lines = [f"  {floor}  {', '.join(sorted(by_floor[floor]))}" for floor in sorted(by_floor, reverse=True)]
    banned = "; ".join(f"{a} imports no {b}" for a, b in sorted(SAME_FLOOR_BANNED))
    return "the floors, top down:\n" + "\n".join(lines) + f"\n  and on one floor: {banned}"


def house() -> dict[str, Path]:
    """Every module of the house by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for room in FLOORS:
        single = ROOT / f"{room}.py"
        paths = [single] if single.exists() else sorted((ROOT / room).rglob("*.py"))
        for path in paths:
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The house modules ``module`` imports anywhere in its file, each with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name, node.lineno, known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import, resolved against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # `from bpo.web import api`: the submodule
                    yield f"{base}.{alias.name}", node.lineno
                else:
                    yield from _known(base, node.lineno, known)


def _known(name: str, line: int, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    # `import a.b.c` runs a, a.b and a.b.c; the deepest the house holds is what it depends on.
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            yield ".".join(parts[:end]), line
            return


def graph() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """The house's modules and, for each, the modules it imports with the first line that does."""
    modules = house()
    edges: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges[module] = {}
        for target, line in imported(module, path, modules):
            if target != module:
                edges[module].setdefault(target, line)
    return modules, edges


def room(module: str) -> str:
    """The top-level room a module lives in."""
    return module.split(".")[0]


def circles(edges: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, {})))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                part = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.add(member)
                    if member == node:
                        break
                if len(part) > 1:
                    found.append(part)
    return found


def test_no_import_runs_from_a_lower_floor_to_a_higher_one():
    modules, edges = graph()
    wrong = []
    for module, targets in sorted(edges.items()):
        for target, line in sorted(targets.items()):
            source, goal = room(module), room(target)
            if FLOORS[goal] > FLOORS[source] or (source, goal) in SAME_FLOOR_BANNED:
                where = modules[module].relative_to(ROOT)
                wrong.append(
                    f"{where}:{line} imports {target} ({goal}, floor {FLOORS[goal]}, from floor {FLOORS[source]})"
                )
    assert not wrong, "\n".join(wrong) + "\n" + floors_in_words()


def test_nothing_imports_the_entry_points_worker_and_starter():
    modules, edges = graph()
    wrong = [
        f"{modules[module].relative_to(ROOT)}:{line} imports {target}"
        for module, targets in sorted(edges.items())
        for target, line in sorted(targets.items())
        if target in ENTRY_POINTS and (module, target) not in HANDOVERS
    ]
    assert not wrong, "\n".join(wrong) + "\n" + floors_in_words()


def test_no_modules_of_the_house_import_each_other_in_a_circle():
    _, edges = graph()
    new = [part for part in circles(edges) if not any(part <= known for known in KNOWN_ELSEWHERE)]
    described = []
    for part in new:
        ties = [f"    {a} -> {b} (line {edges[a][b]})" for a in sorted(part) for b in sorted(edges[a]) if b in part]
        described.append(f"circle of {len(part)}: {', '.join(sorted(part))}\n" + "\n".join(ties))
    assert not new, "\n".join(described) + "\n" + floors_in_words()


def test_every_room_of_the_house_has_a_floor():
    rooms = {p.stem if p.is_file() else p.name for p in ROOT.iterdir() if _is_room(p)}
    assert rooms <= set(FLOORS), f"rooms without a floor: {sorted(rooms - set(FLOORS))}\n" + floors_in_words()


def _is_room(path: Path) -> bool:
    if path.name.startswith(".") or path.name in {"tests", "docs", "deploy"} or path.name.endswith(".egg-info"):
        return False
    if path.is_file():
        return path.suffix == ".py"
    return any(path.rglob("*.py"))


def test_the_checks_catch_what_they_are_for():
    """The checks above would see a wrong import: an upward one, a circle, the entry point."""
    edges = {"models.plan": {"bpo.api": 3}, "bpo.api": {"models.plan": 1, "worker": 2}, "worker": {}}
    assert circles(edges) == [{"models.plan", "bpo.api"}]
    assert FLOORS[room("bpo.api")] > FLOORS[room("models.plan")]
    modules = house()
    assert "infra.audit" in modules and "worker" in modules and "bpo.web.deps" in modules
    found = dict(imported("bpo.web.app", modules["bpo.web.app"], modules))
    assert {"bpo.web.api", "bpo.web.pages", "bpo.web.signin", "bpo.web.deps"} <= set(found)


NO_TEMPORAL = """
import importlib, json, sys

class NoTemporal:
    def find_spec(self, name, path=None, target=None):
        if name == "temporalio" or name.startswith("temporalio."):
            raise ImportError(f"{name} is not importable here")
        return None

sys.meta_path.insert(0, NoTemporal())
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def test_every_rules_and_models_module_imports_without_temporal():
    # The rules are plain Python a test runs without a server; only the workflow's plumbing
    # (workflows/transition.py, pump.py, search.py) speaks Temporal.
    names = sorted(m for m in house() if m == "models" or m.startswith(("models.", "workflows.rules")))
    done = subprocess.run(
        [sys.executable, "-c", NO_TEMPORAL, json.dumps(names)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == {}
    # and the guard does refuse the SDK, so the assertion above can fail
    plumbing = subprocess.run(
        [sys.executable, "-c", NO_TEMPORAL, json.dumps(["workflows.transition"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "temporalio" in json.loads(plumbing.stdout)["workflows.transition"]
