"""The bottom floors hold: the rules (`workflows/rules/`) and the models (`models/`) import each
other in no circle, import without Temporal's SDK, and the rules reach no higher floor (the
activities, the command line and web app, the entry points)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ("models", "workflows/rules")


def module_name(path: Path) -> str:
    """``workflows/rules/checks.py`` -> ``workflows.rules.checks``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the two floors, by its dotted name."""
    return {module_name(p): p for floor in FLOORS for p in sorted((ROOT / floor).glob("*.py"))}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere in it (inside functions and ``TYPE_CHECKING`` too):
    ``from a.b import c`` counts as ``a.b.c`` when that is a module, else as ``a.b``."""
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known.keys()
            found.update(subs or {node.module})
    return found


def circles() -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    known = modules()
    # A package's __init__ only gathers names for other callers; that importing a sibling
    # runs it is Python's doing, not an arrow a reader follows.
    graph = {m: sorted(imported(p) & known.keys() - {m, "workflows.rules", "models"}) for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for n in graph[m]:
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            group = []
            while True:
                n = stack.pop()
                group.append(n)
                if n == m:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for m in graph:
        if m not in index:
            visit(m)
    return found


def test_the_rules_and_the_models_import_each_other_in_no_circle():
    assert circles() == []


def test_the_circle_finder_sees_a_circle_through_an_import_inside_a_function(tmp_path, monkeypatch):
    # The finder must be able to fail: two modules that import each other, one of them lazily.
    (tmp_path / "models").mkdir()
    (tmp_path / "workflows" / "rules").mkdir(parents=True)
    (tmp_path / "models" / "a.py").write_text("from models.b import x\n")
    (tmp_path / "models" / "b.py").write_text("def x():\n    from models import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert circles() == [["models.a", "models.b"]]


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
    names = sorted(modules())
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


def test_the_rules_import_nothing_from_a_higher_floor():
    higher = ("activities", "bpo", "worker", "starter")
    found = [
        f"{name}: {i}" for name, path in modules().items() for i in sorted(imported(path)) if i.split(".")[0] in higher
    ]
    assert found == []
