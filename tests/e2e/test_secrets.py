"""The daemon's own secrets: an empty, blank or short `admin-token` / `webhook-secret` opens nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from daemon.credentials import MIN_SECRET_LENGTH
from daemon.db.pool import Pool
from reconcilers.signatures import sign_stocksync
from tests.e2e.daemon_process import STOCKSYNC, daemon_env, free_port
from tests.faults.app_client import app_client


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_run_refuses_an_empty_admin_token_in_one_line(db_dsn: str, tmp_path: Path) -> None:
    env = daemon_env(db_dsn, tmp_path, free_port())
    for value in ("", "  \n", "short-token"):
        (tmp_path / "admin-token").write_text(value)
        code, _, err = await _cli(env, tmp_path, "run")
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert "admin-token" in err and str(MIN_SECRET_LENGTH) in err


async def test_run_refuses_a_blank_webhook_secret_and_a_missing_admin_token(
    db_dsn: str, tmp_path: Path
) -> None:
    env = daemon_env(db_dsn, tmp_path, free_port())
    (tmp_path / "webhook-secret").write_text(" ")
    code, _, err = await _cli(env, tmp_path, "run")
    assert code == 2 and "webhook-secret" in err and len(err.strip().splitlines()) == 1, err
    env = daemon_env(db_dsn, tmp_path, free_port())
    (tmp_path / "admin-token").unlink()  # drift pages are always served: they need it
    code, _, err = await _cli(env, tmp_path, "run")
    assert code == 2 and "admin-token" in err and "not found" in err, err


async def test_config_check_reports_the_daemon_credentials(db_dsn: str, tmp_path: Path) -> None:
    env = daemon_env(db_dsn, tmp_path, free_port())
    code, out, _ = await _cli(env, tmp_path, "config", "check")
    assert code == 0
    assert json.loads(out)["credentials_check"] == {"admin-token": "ok", "webhook-secret": "ok"}
    (tmp_path / "webhook-secret").write_text("")
    code, out, err = await _cli(env, tmp_path, "config", "check")
    assert code == 2
    assert (
        "webhook-secret" in json.loads(out)["credentials_check"]["webhook-secret"]
        or "empty" in (json.loads(out)["credentials_check"]["webhook-secret"])
    )
    assert "webhook-secret" in err


async def test_an_empty_token_and_an_empty_key_are_never_accepted(pool: Pool, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    async with app_client(pool, credentials) as client:
        (credentials / "admin-token").write_text("  ")
        (credentials / "webhook-secret").write_text("")
        async with client.get("/v1/drift", headers={"Authorization": "Bearer "}) as response:
            assert response.status in (401, 503)
        async with client.post("/drift/login", data={"token": ""}, allow_redirects=False) as response:
            assert response.status in (401, 503)
            assert "stocksync_session" not in response.cookies
        body = b'{"events": []}'
        now = int(time.time())
        headers = {"X-Stocksync-Timestamp": str(now), "X-Stocksync-Signature": sign_stocksync("", now, body)}
        async with client.post("/v1/stock-events", data=body, headers=headers) as response:
            assert response.status == 503
        async with client.get("/readyz") as response:
            assert response.status == 503
            assert "admin-token" in (await response.json())["checks"]["admin_token"]
