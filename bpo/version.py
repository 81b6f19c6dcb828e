"""`bpo --version`: the installed package's version and the rules epoch this code runs.

Light to import on purpose: `--version` answers before any command loads, so the rules epoch is
read from `workflows/rules/versions.py` alone, without the rules' package (which loads the whole
state machine).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

DISTRIBUTION = "bpo-transition"


def _versions_module() -> ModuleType:
    """`workflows.rules.versions`, loaded by itself (or as already imported)."""
    loaded = sys.modules.get("workflows.rules.versions")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("workflows")  # finds the package without running it
    if package is None or not package.submodule_search_locations:
        raise ImportError("the package 'workflows' is not installed")
    path = Path(next(iter(package.submodule_search_locations))) / "rules" / "versions.py"
    spec = importlib.util.spec_from_file_location("_bpo_rules_versions", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def version_text() -> str:
    """``bpo 0.1.0 (rules epoch amendment-names-kept-2026-12)``."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown (not installed)"
    return f"bpo {version} (rules epoch {_versions_module().NEWEST})"


class VersionAction(argparse.Action):
    """``--version``: print `version_text` and exit 0, computing it only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and the rules epoch this code runs, then exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option: str | None = None) -> None:
        """Print the version and leave, as argparse's own ``version`` action does."""
        print(version_text())
        parser.exit()
