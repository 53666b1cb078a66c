"""Operations: readiness follows the database, webhooks refuse (503) while it is gone, /metrics is valid."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.config import Config, DatabaseConfig
from daemon.credentials import CredentialStore
from daemon.db.pool import create_pool
from daemon.engine import Engine
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from reconcilers import ReconcilerFactory
from reconcilers.signatures import sign_stocksync
from tests.e2e.tcp_proxy import PgProxy

SECRET = "ops-secret-0123456789"


@asynccontextmanager
async def client_through(
    dsn: str, credentials: Path
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Liveness]]:
    (credentials / "webhook-secret").write_text(SECRET)
    (credentials / "admin-token").write_text("ops-admin-token-0123")  # readiness needs a usable one
    config = Config(database=DatabaseConfig(dsn=dsn, pool_min=1, pool_max=3, statement_timeout_s=5))
    pool = await create_pool(dsn, config.database)
    liveness = Liveness(scheduler_running=True, started=True)
    try:
        async with aiohttp.ClientSession() as session:
            engine = Engine(pool, ReconcilerFactory(session), CredentialStore(str(credentials)), config)
            app = build_app(Services(config, pool, engine, CredentialStore(str(credentials)), liveness))
            async with TestClient(TestServer(app)) as client:
                yield client, liveness
    finally:
        pool.terminate()


async def signed_post(client: TestClient[web.Request, web.Application], body: bytes) -> int:
    now = int(time.time())
    headers = {"X-Stocksync-Timestamp": str(now), "X-Stocksync-Signature": sign_stocksync(SECRET, now, body)}
    async with client.post("/v1/stock-events", data=body, headers=headers) as response:
        return response.status


async def test_readiness_flips_while_the_database_is_gone(db_dsn: str, tmp_path: Path) -> None:
    proxy = PgProxy(db_dsn)
    dsn = await proxy.start()
    try:
        async with client_through(dsn, tmp_path) as (client, liveness):
            ready = await client.get("/readyz")
            assert ready.status == 200 and (await ready.json())["ready"] is True
            proxy.cut()
            down = await client.get("/readyz")
            body = await down.json()
            assert down.status == 503 and body["checks"]["database"].startswith("unreachable")
            event = (
                b'{"events": [{"event_id": "e", "variant_id": "v", "facility_id": "f", "status": "in_stock",'
                b' "quantity": null, "occurred_at": "2026-11-23T10:00:00Z"}]}'
            )
            assert await signed_post(client, event) == 503  # nothing accepted that is not stored
            assert (await client.get("/healthz")).status == 200  # the process itself is alive
            proxy.heal()
            for _ in range(50):
                if (await client.get("/readyz")).status == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/readyz")).status == 200
            liveness.draining = True
            draining = await client.get("/readyz")
            assert draining.status == 503 and (await draining.json())["checks"]["draining"].startswith("yes")
    finally:
        await proxy.stop()


async def test_metrics_scrape_is_valid_prometheus_text(db_dsn: str, tmp_path: Path) -> None:
    async with client_through(db_dsn, tmp_path) as (client, _):
        response = await client.get("/metrics")
        text = await response.text()
    assert response.status == 200 and text.strip()
    for name in (
        "stocksync_queue_depth",
        "stocksync_database_up 1.0",
        "stocksync_event_to_write_seconds",
        "stocksync_pass_duration_seconds",
        "stocksync_api_requests_total",
    ):
        assert name in text
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package 'prometheus'); format checked by content only")
    result = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
