"""CSV cells that a spreadsheet would run as formulas are neutralised (OWASP CSV injection), and control
or escape characters never reach a terminal table or a CSV file."""

from __future__ import annotations

import csv
import io

import pytest

from daemon.output import csv_lines, render

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x","y")']


@pytest.mark.parametrize("value", FORMULAS)
def test_a_formula_cell_is_exported_as_text(value: str) -> None:
    text = csv_lines([{"sku": value, "n": 3}], ["sku", "n"], header=True)
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[0].startswith("'") and row[0][1:] == value.replace("\r", "\\x0d")
    assert row[1] == "3"


def test_plain_cells_and_numbers_are_unchanged() -> None:
    text = csv_lines([{"sku": "A-1", "n": -2, "when": None}], ["sku", "n", "when"], header=False)
    assert text == "A-1,-2,\n"


def test_csv_cells_lose_escape_and_control_characters() -> None:
    text = csv_lines([{"sku": "a\x1b[2Jb\x00c\x07"}], ["sku"], header=False)
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_terminal_table_shows_control_characters_as_escapes(fmt: str) -> None:
    rows = [{"sku": "\x1b[31mred\x1b[0m", "name": "two\nlines\r\u202eevil", "n": 1}]
    text = render(rows, fmt)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    if fmt == "table":
        assert len(text.splitlines()) == 2  # header and one row: no injected line
        assert "\\x1b[31mred" in text
