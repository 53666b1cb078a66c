"""Run the real `stocksync run` in a subprocess against a test database; sign requests like a sender."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from reconcilers.signatures import sign_stocksync
from tests.secret_scan import watch_log

ADMIN_TOKEN = "test-admin-token"
WEBHOOK_SECRET = "test-upstream-secret"
STOCKSYNC = str(Path(sys.executable).with_name("stocksync"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    url: str
    process: asyncio.subprocess.Process
    env: dict[str, str]
    session: aiohttp.ClientSession
    log_path: Path

    async def post_events(
        self,
        events: list[dict[str, Any]],
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        body = raw if raw is not None else json.dumps({"events": events}).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            "X-Stocksync-Timestamp": str(ts),
            "X-Stocksync-Signature": signature
            if signature is not None
            else sign_stocksync(WEBHOOK_SECRET, ts, body),
        }
        payload = io.BytesIO(body)  # aiohttp warns about large raw bytes bodies
        async with self.session.post(
            self.url + "/v1/stock-events", data=payload, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def post_sold_out(self, variant_id: str, facility_id: str, event_id: str = "e1") -> int:
        """Upstream says the variant is out of stock at the facility now; the answer's status."""
        event = {
            "event_id": event_id,
            "variant_id": variant_id,
            "facility_id": facility_id,
            "status": "out_of_stock",
            "quantity": None,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        status, _ = await self.post_events([event])
        return status

    async def admin(self, method: str, path: str, token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, self.url + path, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.url + path) as response:
            return response.status, await response.text()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


# Quicker polling and shutdown for tests of behaviour; the fault cases that measure take-overs and
# latency run with none of these (shipped_defaults=True), since a tuned value proves nothing users run.
_TUNED = {
    "STOCKSYNC_SYNC__POLL_INTERVAL_S": "0.2",
    "STOCKSYNC_SYNC__SCHEDULER_TICK_S": "0.5",
    "STOCKSYNC_SYNC__GRACE_PERIOD_S": "5",
    "STOCKSYNC_RETRIES__IN_PASS_BACKOFF_S": "0.05",
}


def daemon_env(
    dsn: str, credentials: Path, port: int, *, shipped_defaults: bool = False, **tables: dict[str, Any]
) -> dict[str, str]:
    (credentials / "admin-token").write_text(ADMIN_TOKEN)
    (credentials / "webhook-secret").write_text(WEBHOOK_SECRET)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(
        STOCKSYNC_DATABASE__DSN=dsn,
        STOCKSYNC_HTTP__LISTEN=f"127.0.0.1:{port}",
        STOCKSYNC_CREDENTIALS__DIRECTORY=str(credentials),
        STOCKSYNC_LOGGING__FORMAT="json",
    )
    if not shipped_defaults:
        env.update(_TUNED)
    # config sections as in the TOML file, e.g. sync={"workers": 4}
    env.update(
        {
            f"STOCKSYNC_{s.upper()}__{k.upper()}": str(v)
            for s, table in tables.items()
            for k, v in table.items()
        }
    )
    env.pop("NOTIFY_SOCKET", None)
    return env


@asynccontextmanager
async def running_daemon(
    dsn: str,
    workdir: Path,
    credentials: Path,
    *,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    shipped_defaults: bool = False,
    **tables: dict[str, Any],
) -> AsyncIterator[Daemon]:
    port = port or free_port()
    env = daemon_env(dsn, credentials, port, shipped_defaults=shipped_defaults, **tables) | (extra_env or {})
    log_path = workdir / f"daemon-{port}.log"
    watch_log(log_path)  # scanned for leaked secrets when the test tears down
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            STOCKSYNC,
            "run",
            env=env,
            stdout=log,
            stderr=log,
            cwd=workdir,
        )
    async with aiohttp.ClientSession() as session:
        daemon = Daemon(f"http://127.0.0.1:{port}", process, env, session, log_path)
        try:
            await wait_ready(daemon)
            yield daemon
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def wait_ready(daemon: Daemon, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if daemon.process.returncode is not None:
            raise AssertionError(f"daemon exited {daemon.process.returncode}:\n{daemon.logs()[-3000:]}")
        try:
            status, _ = await daemon.get("/readyz")
            if status == 200:
                return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"daemon not ready in {timeout_s} s:\n{daemon.logs()[-3000:]}")


async def eventually(check: Any, timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll an async predicate until it returns a truthy value (correctness, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval_s)


async def register_store(
    pool: Any,
    store_id: str,
    platform: str,
    region: str,
    credential: str,
    settings: dict[str, Any],
    mappings: dict[str, str],
) -> None:
    """A store row, its schedule and its synced variants (external id → variant id), straight in SQL."""
    await pool.execute(
        "INSERT INTO stores (id, platform, region_id, credential, settings) VALUES ($1, $2, $3, $4, $5)",
        store_id,
        platform,
        region,
        credential,
        settings,
    )
    await pool.execute("INSERT INTO store_schedule (store_id) VALUES ($1)", store_id)
    await pool.executemany(
        "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ($1, $2, $3)",
        [(store_id, external_id, variant_id) for external_id, variant_id in mappings.items()],
    )


async def after_first_periodic_pass(pool: Any) -> None:
    """Wait for the daemon's first scheduled pass to succeed, then keep further passes away."""
    assert await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'periodic' AND outcome = 'ok'"),
        20,
    )
    await pool.execute("UPDATE store_schedule SET next_pass_at = now() + interval '1 day'")


def credentials_dir(tmp_path: Path, name: str, fields: dict[str, Any]) -> Path:
    """A credentials directory holding one store credential (JSON) named `name`."""
    directory = tmp_path / "credentials"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(json.dumps(fields))
    return directory
