"""Sandbox stores and an engine wired for benchmarks (the same parts the daemon composes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from daemon.config import config_from_tables
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.engine import Engine, PassReport
from reconcilers import ReconcilerFactory
from reconcilers.transport import RetryPolicy
from sandbox_store.server import SandboxStore
from sandbox_store.state import SandboxConfig, SandboxStats
from tests.bench.catalog import TOKEN

SEED_CHUNK = 5_000  # items per /control/items request (the store's body limit is 1 MiB)
UNPACED = 1_000_000.0  # requests/s declared for a store that has no rate limit of its own


@dataclass
class Fleet:
    """Sandbox stores by store id, each with its URL, serving in this process."""

    stores: dict[str, SandboxStore]
    urls: dict[str, str]

    def write_calls(self) -> int:
        return sum(s.stats.write_batches for s in self.stores.values())

    def read_calls(self) -> int:
        return sum(s.stats.reads for s in self.stores.values())

    def reset_counters(self) -> None:
        for store in self.stores.values():
            store.stats = SandboxStats()
            store.write_log.clear()


def store_settings(
    url: str, *, batch_limit: int, page_size: int, rate_per_s: float = UNPACED
) -> dict[str, Any]:
    return {
        "base_url": url,
        "batch_limit": batch_limit,
        "page_size": page_size,
        "requests_per_second": rate_per_s,
    }


@asynccontextmanager
async def sandbox_fleet(store_ids: Sequence[str], **config: Any) -> AsyncIterator[Fleet]:
    fleet = Fleet({}, {})
    try:
        for store_id in store_ids:
            store = SandboxStore(SandboxConfig(token=TOKEN, webhook_on_api_writes=False, **config))
            fleet.urls[store_id] = await store.start()
            fleet.stores[store_id] = store
        yield fleet
    finally:
        for store in fleet.stores.values():
            await store.stop()


async def seed_items(session: aiohttp.ClientSession, url: str, items: Sequence[dict[str, object]]) -> None:
    """What a store shows, set through its control API in chunks."""
    for start in range(0, len(items), SEED_CHUNK):
        async with session.post(
            f"{url}/control/items",
            json={"items": list(items[start : start + SEED_CHUNK])},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            response.raise_for_status()


@asynccontextmanager
async def bench_engine(pool: Pool, credentials_dir: Path, **tables: dict[str, Any]) -> AsyncIterator[Engine]:
    """`tables` are config sections as in the TOML file, e.g. sync={"observe_chunk": 5000}."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        factory = ReconcilerFactory(session, retry=RetryPolicy(attempts=5, base_delay=0.05))
        yield Engine(pool, factory, CredentialStore(str(credentials_dir)), config_from_tables(tables))


async def each_store(
    store_ids: Sequence[str], run: Callable[[str], Awaitable[PassReport]], concurrency: int
) -> list[PassReport]:
    """One pass per store, at most `concurrency` at once (the daemon's worker count)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(store_id: str) -> PassReport:
        async with gate:
            return await run(store_id)

    return list(await asyncio.gather(*(one(s) for s in store_ids)))
