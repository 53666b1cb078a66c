"""The first command a newcomer runs installs what the demo needs, quietly, from a clean package config."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def planned(target: str, tmp_path: Path) -> str:
    """The commands `make TARGET` would run for a fresh venv (nothing is run)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        [make, "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_make_demo_installs_the_runtime_only_and_quietly(tmp_path: Path) -> None:
    # found: `make demo` installed pytest, mypy, playwright... and printed 170 lines of pip output
    commands = planned("demo", tmp_path)
    installs = [line for line in commands.splitlines() if "pip install" in line]
    assert installs and all("-qq" in line for line in installs), commands
    assert "[dev]" not in commands and "-e ." in commands


def test_make_test_adds_the_dev_tools(tmp_path: Path) -> None:
    assert "'.[dev]'" in planned("test", tmp_path)


def test_package_metadata_has_no_deprecated_license_table() -> None:
    # found: setuptools warned twice per install about `license = { text = ... }`
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_every_directory_of_shipped_files_is_a_listed_package() -> None:
    # found: setuptools warned "Package 'sql.migrations' is absent from the packages configuration"
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for top in ("daemon", "reconcilers", "sources", "sandbox_store", "sql"):
        for directory in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts or not any(
                f.suffix in (".py", ".sql") for f in directory.iterdir()
            ):
                continue
            name = ".".join(directory.relative_to(ROOT).parts)
            assert name in packages, name
