"""The systemd unit verifies cleanly and its hardening scores 2.0 or lower (skipped without systemd-analyze)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "stocksync.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def installed_copy(tmp_path: Path) -> Path:
    """The unit with its /opt paths pointed at this checkout's real executable, as an install would."""
    executable = Path(sys.executable).with_name("stocksync")
    text = UNIT.read_text().replace("/opt/stocksync/.venv/bin/stocksync", str(executable))
    copy = tmp_path / "stocksync.service"
    copy.write_text(text)
    return copy


def test_unit_verifies_without_any_output(tmp_path: Path) -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "verify", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


def test_unit_is_hardened(tmp_path: Path) -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-500:]
    assert float(match.group(1)) <= 2.0


def test_unit_declares_the_promised_behaviour() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "Restart=on-failure",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=stocksync",
        "LoadCredential=admin-token:",
        "LoadCredential=webhook-secret:",
        "LimitNOFILE=4096",
    ):
        assert line in text
