"""Fault suite: every case records the figure it measured; the figures are printed after the run and
written to tests/faults/results.json (what was tried, how many times, what was lost)."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).with_name("results.json")
_FIGURES: dict[str, dict[str, Any]] = {}


def record_figure(case: str, **figures: Any) -> None:
    """What one fault case measured, e.g. record_figure("kill -9 mid-batch", tried=20, lost=0)."""
    _FIGURES[case] = figures


@pytest.fixture
def figure() -> Any:
    return record_figure


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault-suite figures")
    for case, figures in sorted(_FIGURES.items()):
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{case}: {shown}")
    previous: dict[str, Any] = {}
    if RESULTS.exists():
        try:
            previous = json.loads(RESULTS.read_text()).get("cases", {})
        except ValueError:
            previous = {}
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": platform.platform(),
                "cases": previous | _FIGURES,
            },
            indent=2,
        )
        + "\n"
    )
