"""The shared resources of a stocksync process, opened in order and closed in reverse.

The pool (embedded server when no DSN), the schema check, one aiohttp client session, and the engine
built on them. CLI commands and the daemon both start from here, so they see the same wiring.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db import migrate
from daemon.db.pool import Pool, open_pool
from daemon.engine import Engine
from daemon.metrics import observe_request, record_source_pull
from daemon.source_pulls import PullResult, SourcePuller
from reconcilers import ReconcilerFactory
from sources.factory import SourceFactory


@asynccontextmanager
async def checked_pool(config: Config) -> AsyncIterator[Pool]:
    """The pool, after refusing a database whose schema is not this build's."""
    async with open_pool(config.database) as pool:
        async with pool.acquire() as conn:
            await migrate.check(conn)
        yield pool


@asynccontextmanager
async def client_session(config: Config) -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=config.http.client_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, raise_for_status=False) as session:
        yield session


def credential_store(config: Config) -> CredentialStore:
    return CredentialStore(config.credentials.directory or None)


@asynccontextmanager
async def engine_for(config: Config, pool: Pool) -> AsyncIterator[Engine]:
    async with client_session(config) as session:
        factory = ReconcilerFactory(session, timeout_s=config.http.client_timeout_s, observer=observe_request)
        yield Engine(pool, factory, credential_store(config), config)


@asynccontextmanager
async def source_puller_for(config: Config, pool: Pool, owner: str) -> AsyncIterator[SourcePuller]:
    """A puller of upstream sources on its own client session (sources are not stores)."""
    async with client_session(config) as session:
        factory = SourceFactory(session, timeout_s=config.http.client_timeout_s, observer=observe_request)
        yield SourcePuller(pool, factory, credential_store(config), config, owner, on_pull=_count_pull)


def _count_pull(result: PullResult) -> None:
    record_source_pull(result.kind, result.outcome)
