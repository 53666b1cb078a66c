"""A platform is registered completely or not at all: module, sources, import contract, fake adapter,
README row and checklist row (with the module's real line count)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from reconcilers import known_platforms, reconciler_class
from tests.contract.platforms import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
TARGET_LINES = 250
HARD_CAP = 300  # above the target is reported in the checklist; above this the module must be split


def _module_path(platform: str) -> Path:
    return ROOT / (reconciler_class(platform).__module__.replace(".", "/") + ".py")


@pytest.mark.parametrize("platform", sorted(known_platforms()))
def test_registration_is_complete(platform: str) -> None:
    assert platform in ADAPTERS, "add an adapter to tests/contract/platforms.py"
    module = reconciler_class(platform).__module__
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    independent = next(c for c in contracts if c["type"] == "independence" and module in c["modules"])
    assert set(independent["modules"]) == {reconciler_class(p).__module__ for p in known_platforms()}
    assert reconciler_class(platform).capabilities.platform == platform
    if platform != "sandbox":  # the sandbox's source is its server in this repository
        assert (ROOT / "reconcilers" / "sources" / f"{platform}.md").is_file()


@pytest.mark.parametrize("platform", sorted(known_platforms()))
def test_checklist_and_readme_match_the_code(platform: str) -> None:
    lines = len(_module_path(platform).read_text().splitlines())
    assert lines <= HARD_CAP
    checklist = (ROOT / "reconcilers" / "CHECKLIST.md").read_text()
    row = re.search(rf"^\| {platform} \| (\d+) \|", checklist, re.MULTILINE)
    assert row is not None, f"no row for {platform} in reconcilers/CHECKLIST.md"
    assert int(row.group(1)) == lines, "update the line count in reconcilers/CHECKLIST.md"
    if lines > TARGET_LINES:
        assert "over the target" in checklist.splitlines()[checklist[: row.start()].count("\n")]
    readme = (ROOT / "README.md").read_text().lower()
    assert re.search(rf"^\| {platform} \|", readme, re.MULTILINE), "add a row to the README platform table"
