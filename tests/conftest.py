"""Test harness: one PostgreSQL per session, a migrated template database, a fresh clone per test.

The server is the embedded one unless STOCKSYNC_TEST_DSN names another. Cloning a template per test
(CREATE DATABASE … TEMPLATE) keeps LISTEN/NOTIFY and SKIP LOCKED tests honest, which a rollback per
test cannot.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from daemon.config import DatabaseConfig
from daemon.db import migrate
from daemon.db.embedded import EmbeddedPostgres
from daemon.db.pool import Pool, create_pool

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

pytest_plugins = ["tests.secret_scan"]  # no test secret in any captured output or daemon log


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def postgres_server(*env_vars: str) -> Iterator[str]:
    """The DSN in the first of these environment variables that is set, else a private embedded server."""
    configured = next((os.environ[name] for name in env_vars if os.environ.get(name)), None)
    if configured:
        yield configured
        return
    root = tempfile.mkdtemp(prefix="stocksync-test-pg-")
    os.chmod(root, 0o755)  # the wheel runs postgres as its own system user when we are root
    embedded = EmbeddedPostgres(Path(root) / "data")
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    with postgres_server("STOCKSYNC_TEST_DSN") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def template_db(server_dsn: str) -> Iterator[str]:
    name = f"stocksync_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(with_database(server_dsn, name))
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    yield name
    asyncio.run(drop())


async def _admin(server_dsn: str, statement: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def temporary_database(server_dsn: str, prefix: str, template: str | None = None) -> AsyncIterator[str]:
    """A database that lives for one test: cloned from a template, or empty."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await _admin(server_dsn, f'CREATE DATABASE "{name}"{clause}')
    try:
        yield with_database(server_dsn, name)
    finally:
        await _admin(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db_dsn(server_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test only."""
    async with temporary_database(server_dsn, "stocksync_t", template_db) as dsn:
        yield dsn


@pytest.fixture
async def empty_db_dsn(server_dsn: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    async with temporary_database(server_dsn, "stocksync_e") as dsn:
        yield dsn


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[Pool]:
    created = await create_pool(db_dsn, DatabaseConfig(dsn=db_dsn, pool_min=1, pool_max=5))
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
def shared_dir() -> Path:
    """../shared beside the checkout; absent in a user's clone, so tests that need it skip."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside this checkout (only developers and CI have it)")
    return SHARED
