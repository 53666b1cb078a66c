"""Sign-in hardening: failed logins are throttled and logged per client address, logout revokes the
session on the server, the cookie is Secure over HTTPS (a trusted proxy's word), and a store webhook for
an unknown store is answered exactly like a bad signature."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from daemon.web.sessions import COOKIE
from reconcilers import ReconcilerFactory
from tests.e2e.daemon_process import ADMIN_TOKEN, register_store
from tests.faults.app_client import write_credentials

Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def site(pool: Pool, tmp_path: Path, *, trust_proxy: bool = False) -> AsyncIterator[Client]:
    credentials = tmp_path / "credentials"
    write_credentials(credentials, admin_token=True)
    store = CredentialStore(str(credentials), environ={})
    config = Config()
    config = dataclasses.replace(
        config, http=dataclasses.replace(config.http, trust_forwarded_proto=trust_proxy)
    )
    async with aiohttp.ClientSession() as session:
        engine = Engine(pool, ReconcilerFactory(session), store, config)
        app = build_app(Services(config, pool, engine, store, Liveness(scheduler_running=True, started=True)))
        async with TestClient(TestServer(app)) as client:
            yield client


async def _login(client: Client, token: str, **headers: str) -> aiohttp.ClientResponse:
    response = await client.post(
        "/drift/login", data={"token": token}, headers=headers, allow_redirects=False
    )
    await response.read()
    return response


async def test_failed_logins_are_logged_and_throttled_per_address(pool: Pool, tmp_path: Path) -> None:
    async with site(pool, tmp_path) as client:
        with capture_logs() as logs:
            statuses = [(await _login(client, f"wrong-{n}")).status for n in range(5)]
            assert statuses == [401] * 5
            throttled = await _login(client, ADMIN_TOKEN)  # even the right token waits now
        assert throttled.status == 429 and int(throttled.headers["Retry-After"]) > 0
        failed = [entry for entry in logs if entry["event"] == "login_failed"]
        assert len(failed) == 5 and failed[0]["client"] == "127.0.0.1"
        assert all("wrong" not in str(entry) for entry in logs)  # the presented token is never logged


async def test_logout_revokes_the_session_on_the_server(pool: Pool, tmp_path: Path) -> None:
    async with site(pool, tmp_path) as client:
        signed_in = await _login(client, ADMIN_TOKEN)
        assert signed_in.status == 303
        cookie = signed_in.cookies[COOKIE].value
        page = await client.get("/drift/logout", cookies={COOKIE: cookie})
        html = await page.text()
        csrf = html.split("name='csrf' value='")[1].split("'")[0]
        out = await client.post(
            "/drift/logout", data={"csrf": csrf}, cookies={COOKIE: cookie}, allow_redirects=False
        )
        assert out.status == 303
        client.session.cookie_jar.clear()
        replayed = await client.get("/drift", cookies={COOKIE: cookie}, allow_redirects=False)
        assert replayed.status == 303 and replayed.headers["Location"] == "/drift/login"
        assert await pool.fetchval("SELECT count(*) FROM revoked_sessions") == 1


async def test_the_cookie_is_secure_behind_a_trusted_https_proxy_only(pool: Pool, tmp_path: Path) -> None:
    async with site(pool, tmp_path, trust_proxy=True) as client:
        response = await _login(client, ADMIN_TOKEN, **{"X-Forwarded-Proto": "https"})
        assert "Secure" in response.headers["Set-Cookie"]
    async with site(pool, tmp_path) as client:  # not trusted: a client could claim anything
        response = await _login(client, ADMIN_TOKEN, **{"X-Forwarded-Proto": "https"})
        assert "Secure" not in response.headers["Set-Cookie"]


async def test_an_unknown_store_is_answered_like_a_bad_signature(pool: Pool, tmp_path: Path) -> None:
    await pool.execute("INSERT INTO regions (id) VALUES ('europe') ON CONFLICT DO NOTHING")
    await register_store(pool, "known", "sandbox", "europe", "known-token", {"base_url": "http://x"}, {})
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "known-token").write_text('{"token": "t"}')
    async with site(pool, tmp_path) as client:
        answers = []
        for store_id in ("known", "nope"):
            response = await client.post(f"/v1/stores/{store_id}/webhook", data=b"{}")
            answers.append((response.status, (await response.text()).replace(store_id, "ID")))
        assert answers[0] == answers[1]
        assert answers[0][0] == 401
