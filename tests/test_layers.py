"""The layering the README promises: the workflow, its rules, its activities and the models import
nothing from `bpo/` (the command line and the web app), so a worker image needs none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["models", "workflows", "activities"])
def test_the_engine_imports_nothing_from_the_command_line_or_the_web_app(package):
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n == "bpo" or n.startswith("bpo.")]
    assert not found
