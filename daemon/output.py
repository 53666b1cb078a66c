"""Render rows (lists of flat dicts) for people and scripts: an aligned table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

FORMATS = ("table", "json", "csv")


# What a terminal or a spreadsheet would act on rather than show: C0/C1 controls (ESC starts a terminal
# escape sequence, CR rewrites the line), DEL and the bidirectional overrides that reorder text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CSV_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # keeps tab, LF
# OWASP CSV injection: a cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """The text with every control character shown as an escape (`\\x1b`), for terminal output."""
    return _CONTROL.sub(_escaped, text)


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula (text starting =, +, -, @, tab or CR gets a
    leading ') and that carries no escape or control character; numbers stay numbers."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return _CSV_CONTROL.sub(_escaped, value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def render(rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None) -> str:
    cols = list(columns) if columns else (list(rows[0]) if rows else [])
    if fmt == "json":
        return json.dumps([{c: _plain(r.get(c)) for c in cols} for r in rows], indent=2)
    if fmt == "csv":
        return csv_lines(rows, cols, header=True).rstrip("\n")
    return _table(rows, cols)


def csv_lines(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, header: bool) -> str:
    """CSV lines, each ending in a newline; without the header for the later chunks of a stream."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow([csv_safe(c) for c in columns])
    for r in rows:
        writer.writerow(["" if r.get(c) is None else csv_safe(_plain(r.get(c))) for c in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _table(rows: Sequence[dict[str, Any]], cols: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[terminal_safe(_cell(r.get(c))) for c in cols] for r in rows]
    names = [terminal_safe(c) for c in cols]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(names)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(names, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def show_value(available: bool | None, quantity: int | None, unlimited: bool | None = False) -> str:
    """A store-side value in words: 'available (12)', 'unavailable', 'unknown', 'unlimited'."""
    if available is None:
        return "unknown"
    if unlimited:
        return "unlimited"
    word = "available" if available else "unavailable"
    return word if quantity is None else f"{word} ({quantity})"
