"""The daemon's aiohttp app in process on a real pool (fast): admin token and upstream secret configured."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from reconcilers import ReconcilerFactory
from reconcilers.signatures import sign_stocksync
from tests.e2e.daemon_process import ADMIN_TOKEN, WEBHOOK_SECRET

Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def app_client(pool: Pool, credentials: Path, *, admin_token: bool = True) -> AsyncIterator[Client]:
    write_credentials(credentials, admin_token=admin_token)
    store = CredentialStore(str(credentials), environ={})
    config = Config()
    liveness = Liveness(scheduler_running=True, started=True)
    async with aiohttp.ClientSession() as session:
        engine = Engine(pool, ReconcilerFactory(session), store, config)
        app = build_app(Services(config, pool, engine, store, liveness))
        async with TestClient(TestServer(app)) as client:
            yield client


def write_credentials(credentials: Path, *, admin_token: bool) -> None:
    credentials.mkdir(exist_ok=True)
    (credentials / "webhook-secret").write_text(WEBHOOK_SECRET)
    if admin_token:
        (credentials / "admin-token").write_text(ADMIN_TOKEN)


def signed_headers(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Stocksync-Timestamp": str(ts),
        "X-Stocksync-Signature": sign_stocksync(WEBHOOK_SECRET, ts, body),
    }


async def post_signed(
    client: Client, path: str, body: bytes, timestamp: int | None = None
) -> tuple[int, str]:
    """POST a body signed with the upstream secret; (status, response text)."""
    headers = signed_headers(body, timestamp)
    async with client.post(path, data=io.BytesIO(body), headers=headers) as response:
        return response.status, await response.text()
