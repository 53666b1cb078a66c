"""`stocksync import` end to end: exit status, stderr `FILE:LINE: column:`, summary line, nothing changed.

The in-process tests drive daemon.import_command with its own parser; the subprocess test runs the real
console script and skips until daemon/cli.py exposes the `import` command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from functools import cache
from pathlib import Path

import asyncpg
import pytest

import reconcilers
from daemon import import_command
from daemon.config import Config, DatabaseConfig

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
CATALOG = ("facilities", "regions", "variants", "stock")
TABLES = (
    "facilities",
    "regions",
    "region_facilities",
    "variants",
    "facility_stock",
    "stores",
    "synced_variants",
)


@pytest.fixture(autouse=True)
def platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcilers, "known_platforms", lambda: frozenset({"sandbox"}), raising=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stocksync")
    import_command.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


async def row_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
    finally:
        await conn.close()


async def test_import_command_in_process(db_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = Config(database=DatabaseConfig(dsn=db_dsn, pool_min=1, pool_max=2))
    for kind in (*CATALOG, "stores", "mappings"):
        assert await import_command.run(parse("import", kind, str(FIXTURES / f"{kind}.csv")), config) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3] == "imported stock.csv: 6 rows (6 new, 0 updated, 0 unchanged)"
    # the two mapped variants with known stock are queued for their first write
    assert (
        out[5]
        == "imported mappings.csv: 4 rows (4 new, 0 updated, 0 unchanged); 2 store items queued to write"
    )
    before = await row_counts(db_dsn)

    bad = parse("import", "stock", str(FIXTURES / "stock_bad_status_line7.csv"))
    assert await import_command.run(bad, config) == 2
    captured = capsys.readouterr()
    assert "stock_bad_status_line7.csv:7: status: 'instock' is not one of" in captured.err
    assert captured.out == ""
    assert await row_counts(db_dsn) == before

    assert await import_command.run(parse("import", "stores", str(FIXTURES / "stores.json")), config) == 0
    assert capsys.readouterr().out == "imported stores.json: 2 rows (0 new, 0 updated, 2 unchanged)\n"


async def test_missing_reference_exits_2_and_changes_nothing(
    db_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config(database=DatabaseConfig(dsn=db_dsn, pool_min=1, pool_max=2))
    path = tmp_path / "regions.csv"
    path.write_text("region,facility_id\neurope,lv1\n", encoding="utf-8")
    assert await import_command.run(parse("import", "regions", str(path)), config) == 2
    assert capsys.readouterr().err == f"{path}:2: facility_id: unknown facility 'lv1'\n"
    assert set((await row_counts(db_dsn)).values()) == {0}


def test_parser_refuses_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse("import", "widgets", "x.csv")
    assert exited.value.code == 2
    assert "invalid choice: 'widgets'" in capsys.readouterr().err


def stocksync_executable() -> str | None:
    found = Path(sys.executable).with_name("stocksync")
    return str(found) if found.exists() else shutil.which("stocksync")


@cache
def cli_has_import() -> bool:
    import subprocess

    exe = stocksync_executable()
    if exe is None:
        return False
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=False)
    return done.returncode == 0 and " import " in done.stdout.replace(",", " ").replace("{", " ")


async def stocksync(cwd: Path, dsn: str, *argv: str) -> tuple[int, str, str]:
    exe = stocksync_executable()
    assert exe is not None
    env = {**os.environ, "STOCKSYNC_DATABASE__DSN": dsn, "STOCKSYNC_LOGGING__FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        exe, *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_stocksync_import_subprocess(db_dsn: str, tmp_path: Path) -> None:
    if not cli_has_import():
        pytest.skip("daemon/cli.py does not expose `stocksync import` yet")
    for kind in CATALOG:
        code, out, err = await stocksync(tmp_path, db_dsn, "import", kind, str(FIXTURES / f"{kind}.csv"))
        assert code == 0, err
        assert out.startswith(f"imported {kind}.csv: ")
    before = await row_counts(db_dsn)
    code, out, err = await stocksync(
        tmp_path, db_dsn, "import", "stock", str(FIXTURES / "stock_bad_status_line7.csv")
    )
    assert code == 2
    assert "stock_bad_status_line7.csv:7: status:" in err
    assert await row_counts(db_dsn) == before
    code, out, _ = await stocksync(tmp_path, db_dsn, "import", "stock", str(FIXTURES / "stock.csv"))
    assert (code, out.strip()) == (0, "imported stock.csv: 6 rows (0 new, 0 updated, 6 unchanged)")
