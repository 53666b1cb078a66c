"""Where a benchmark runs: the machine, a PostgreSQL server, a fresh migrated database per scenario."""

from __future__ import annotations

import os
import platform
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from daemon.config import DatabaseConfig
from daemon.db import migrate
from daemon.db.pool import Pool, create_pool
from tests import conftest
from tests.conftest import temporary_database


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _meminfo_kib(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def external_server(choice: str | None) -> str | None:
    """The external server to run the event-path scenarios on as well, or None."""
    choice = choice or os.environ.get("STOCKSYNC_BENCH_EXTERNAL_DSN")
    if choice == "none":
        return None
    if choice:
        return choice
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return LOCAL_SERVER
    except OSError:
        return None


def postgres_server() -> AbstractContextManager[str]:
    """STOCKSYNC_BENCH_DSN (or STOCKSYNC_TEST_DSN) when set, else a private embedded server."""
    return conftest.postgres_server("STOCKSYNC_BENCH_DSN", "STOCKSYNC_TEST_DSN")


async def postgres_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version")).split()[0]
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(server_dsn: str) -> AsyncIterator[tuple[str, Pool]]:
    """An empty migrated database that lives for one scenario, and a pool on it."""
    async with temporary_database(server_dsn, "stocksync_bench") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()
        pool = await create_pool(dsn, DatabaseConfig(dsn=dsn, pool_min=1, pool_max=10))
        try:
            yield dsn, pool
        finally:
            await pool.close()
