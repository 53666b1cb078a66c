"""The one asyncpg pool: embedded server when no DSN, JSON codecs, statement timeout, health query."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import asyncpg
from asyncpg.pool import PoolConnectionProxy

from daemon.config import DatabaseConfig, masked_dsn
from daemon.db.embedded import EmbeddedPostgres
from daemon.errors import ConfigError

Pool = asyncpg.Pool
# What a lost or restarting database raises; callers that must survive an outage catch these.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    # the server terminated our session: it is shutting down (pg_ctl stop, restart) or crashed
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
# The server is down or unreachable, or refuses our login or database name (the CLI says so in a line).
CANNOT_CONNECT: tuple[type[BaseException], ...] = (
    *DATABASE_UNAVAILABLE,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
)
# A plain connection or one borrowed from the pool: every db module accepts either.
Connection = asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """On release, asyncpg always rolls back an open transaction and drops client-side listeners; its
    default reset also sends UNLISTEN *, RESET ALL, CLOSE ALL and an advisory unlock: one more round
    trip per release, a sixth of a pass's statements. Our connections keep no session state (the
    work listener unlistens itself, the migration lock is released in `finally`, settings are set at
    connect), so nothing is left to reset."""


async def create_pool(dsn: str, config: DatabaseConfig) -> Pool:
    try:
        return await _create_pool(dsn, config)
    except (ValueError, asyncpg.ClientConfigurationError) as exc:  # a DSN asyncpg cannot parse
        raise ConfigError(
            "database.dsn", f"{masked_dsn(str(exc))} (expected postgresql://USER:PASSWORD@HOST:PORT/DBNAME)"
        ) from None


async def _create_pool(dsn: str, config: DatabaseConfig) -> Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=config.pool_min,
        max_size=config.pool_max,
        init=_init_connection,
        reset=_keep_session,
        server_settings={
            "application_name": "stocksync",
            "statement_timeout": str(int(config.statement_timeout_s * 1000)),
            # Plan each prepared statement once per connection. PostgreSQL re-plans a statement while its
            # generic plan looks dearer than custom ones, and `= ANY($1)` over an array of unknown length
            # always does: the event path's statements (views and SQL functions inlined) spent ~2 ms
            # planning per 0.15 ms run, most of the server's CPU under load. Our statements are written
            # for generic plans (tests/db/test_pass_rows_plan.py, test_drift_listing_plans.py).
            "plan_cache_mode": "force_generic_plan",
        },
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def resolved_dsn(config: DatabaseConfig) -> AsyncIterator[str]:
    """The configured DSN, or the DSN of an embedded server that lives as long as the context."""
    if config.dsn:
        yield config.dsn
        return
    embedded = EmbeddedPostgres(config.data_dir)
    dsn = await anyio.to_thread.run_sync(embedded.start)
    try:
        yield dsn
    finally:
        await anyio.to_thread.run_sync(embedded.stop)


@asynccontextmanager
async def open_pool(config: DatabaseConfig) -> AsyncIterator[Pool]:
    async with resolved_dsn(config) as dsn:
        pool = await create_pool(dsn, config)
        try:
            yield pool
        finally:
            await pool.close()


async def ping(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT true"))
