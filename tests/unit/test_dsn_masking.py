"""A DSN's password is masked in every form PostgreSQL accepts: URL userinfo, `?password=`, key=value."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import masked_dsn
from daemon.logs import configure_logging, get_logger

PW = "Pw-9x!never-shown"
DSNS = [
    f"postgresql://app:{PW}@db.example:5432/stocksync",
    f"postgres://app:{PW}@db.example/stocksync?sslmode=require",
    f"postgresql://app:p@ss{PW}@db.example/stocksync",  # '@' inside the password
    f"postgresql://app@db.example/stocksync?password={PW}&sslmode=require",
    f"postgresql:///stocksync?host=/run/pg&PASSWORD={PW}",
    f"host=db.example user=app password={PW} dbname=stocksync",
    f"host=db.example password = '{PW} with blanks' dbname=stocksync",
    f"dbname=stocksync password={PW}",
]


@pytest.mark.parametrize("dsn", DSNS)
def test_masked_dsn_hides_the_password(dsn: str) -> None:
    masked = masked_dsn(dsn)
    assert PW not in masked and "blanks" not in masked
    assert "***" in masked and "stocksync" in masked


@pytest.mark.parametrize("dsn", DSNS)
def test_log_lines_mask_a_dsn_inside_any_value(dsn: str) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    get_logger().warning("database_unavailable", error=f"could not connect with {dsn}: refused", dsn=dsn)
    line = json.loads(stream.getvalue())
    assert PW not in stream.getvalue()
    assert "***" in line["error"] and "***" in line["dsn"]


def test_config_check_masks_a_key_value_dsn(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "STOCKSYNC_DATABASE__DSN": f"host=127.0.0.1 user=app password={PW} dbname=stocksync",
        "STOCKSYNC_CREDENTIALS__DIRECTORY": str(tmp_path),
    }
    stocksync = str(Path(sys.executable).with_name("stocksync"))
    done = subprocess.run([stocksync, "config", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert PW not in done.stdout + done.stderr
    assert "password=***" in json.loads(done.stdout)["database"]["dsn"]


def test_a_dsn_asyncpg_cannot_parse_is_a_one_line_config_error(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "STOCKSYNC_DATABASE__DSN": f"postgresql://app:{PW}@127.0.0.1:notaport/stocksync",
        "STOCKSYNC_CREDENTIALS__DIRECTORY": str(tmp_path),
    }
    stocksync = str(Path(sys.executable).with_name("stocksync"))
    done = subprocess.run([stocksync, "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "database.dsn" in done.stderr and "Traceback" not in done.stderr
    assert PW not in done.stdout + done.stderr


def test_a_traceback_in_a_log_line_is_masked_too() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        raise RuntimeError(f"cannot use {DSNS[0]}")
    except RuntimeError:
        get_logger().exception("failed")
    assert PW not in stream.getvalue() and "***" in stream.getvalue()
