"""Secret scan over the whole suite: no known test secret may appear in any captured output or daemon log.

The known secrets are the string constants of the test modules whose names say they are secrets
(TOKEN, SECRET, PASSWORD, KEY, CS, HOOK, ADMIN), harvested from every loaded `tests.*` module, plus
any value a test registers. After each test phase its captured stdout, stderr and log sections are
scanned, and after teardown every daemon log file the test's daemons wrote. A hit fails that test,
naming the secret's constant, never its value.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import pytest

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|^(KEY|CS|HOOK|ADMIN)$")
_MIN_LENGTH = 6  # shorter values would match ordinary text by chance
_registered: dict[str, str] = {}  # value → name
_harvested: dict[str, str] = {}
_seen_modules: set[str] = set()
_pending_logs: list[Path] = []
_scanned = {"sections": 0, "daemon_logs": 0, "leaks": 0}


def register_secret(name: str, value: str) -> None:
    """A secret that is not a module constant (e.g. built at run time)."""
    if len(value) >= _MIN_LENGTH:
        _registered[value] = name


def watch_log(path: Path) -> None:
    """A daemon log file to scan when the current test tears down."""
    _pending_logs.append(path)


def known_secrets() -> dict[str, str]:
    """value → qualified constant name, for every secret-named string constant of a loaded test module."""
    for module_name, module in list(sys.modules.items()):
        if module_name in _seen_modules or not module_name.startswith("tests."):
            continue
        _seen_modules.add(module_name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and len(value) >= _MIN_LENGTH and _SECRET_NAME.search(attr):
                _harvested.setdefault(value, f"{module_name}.{attr}")
    return _harvested | _registered


def leaked_names(texts: Iterable[str]) -> list[str]:
    """Names of the known secrets that occur in any of the texts."""
    secrets = known_secrets()
    found = {name for text in texts for value, name in secrets.items() if value in text}
    return sorted(found)


def _daemon_logs() -> list[str]:
    texts = [path.read_text(errors="replace") for path in _pending_logs if path.exists()]
    _pending_logs.clear()
    _scanned["daemon_logs"] += len(texts)
    return texts


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    texts = [content for _, content in report.sections]
    _scanned["sections"] += len(texts)
    if call.when == "teardown":
        texts += _daemon_logs()
    names = leaked_names(texts)
    if names:
        _scanned["leaks"] += len(names)
        report.outcome = "failed"
        report.longrepr = (
            f"secret leak in {item.nodeid} ({call.when}): {', '.join(names)} appeared in captured "
            "output or a daemon log (values not shown)"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"secret scan: {len(known_secrets())} known test secrets, {_scanned['sections']} captured sections "
        f"and {_scanned['daemon_logs']} daemon logs scanned, {_scanned['leaks']} leaks"
    )
