"""Scenarios 1 and 2: write minimality, and the naive syncer against the same stores in the same run."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from daemon.config import SyncConfig
from tests.bench import catalog as bench_catalog
from tests.bench.environment import fresh_database
from tests.bench.fleet import bench_engine, each_store, sandbox_fleet, seed_items, store_settings
from tests.bench.naive import NaiveCounts, naive_sync

BATCH_LIMIT = 50
PAGE_SIZE = 100


async def run(server_dsn: str, *, stores: int, variants: int, changed_percent: float) -> dict[str, Any]:
    every = max(1, round(100 / changed_percent))
    store_ids = [f"s{n:04d}" for n in range(stores)]
    workers = SyncConfig().workers
    with tempfile.TemporaryDirectory() as tmp:
        credentials = Path(tmp)
        async with (
            fresh_database(server_dsn) as (_, pool),
            sandbox_fleet(store_ids, batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE) as fleet,
            aiohttp.ClientSession() as session,
            bench_engine(pool, credentials) as engine,
        ):
            settings = {
                s: store_settings(fleet.urls[s], batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE)
                for s in store_ids
            }
            catalog = await bench_catalog.create(pool, credentials, settings, variants)
            shown = bench_catalog.in_sync_items(catalog)
            for url in fleet.urls.values():
                await seed_items(session, url, shown)
            changed = await bench_catalog.change_upstream(pool, catalog, every)

            started = time.perf_counter()
            naive = NaiveCounts()
            for store_id in store_ids:
                counts = await naive_sync(pool, session, store_id, fleet.urls[store_id])
                naive.reads, naive.writes = naive.reads + counts.reads, naive.writes + counts.writes
            naive_wall = time.perf_counter() - started
            _check_converged(fleet, catalog, every)

            for url in fleet.urls.values():  # the same starting point for stocksync
                await seed_items(session, url, shown)
            fleet.reset_counters()
            started = time.perf_counter()
            first = await each_store(store_ids, lambda s: engine.run_pass(s, trigger="cli"), workers)
            stocksync_wall = time.perf_counter() - started
            _check_converged(fleet, catalog, every)
            writes, reads = fleet.write_calls(), fleet.read_calls()

            fleet.reset_counters()
            await each_store(store_ids, lambda s: engine.run_pass(s, trigger="cli"), workers)
            second_writes = fleet.write_calls()

    floor = stores * math.ceil(changed / BATCH_LIMIT)
    calls = reads + writes
    return {
        "stores": stores,
        "variants_per_store": variants,
        "changed_per_store": changed,
        "max_write_batch": BATCH_LIMIT,
        "outcomes": sorted({r.outcome for r in first}),
        "write_calls": writes,
        "write_floor": floor,
        "write_ratio": round(writes / floor, 3) if floor else None,
        "second_pass_write_calls": second_writes,
        "stocksync_read_calls": reads,
        "stocksync_calls": calls,
        "stocksync_wall_s": round(stocksync_wall, 3),
        "naive_read_calls": naive.reads,
        "naive_write_calls": naive.writes,
        "naive_calls": naive.calls,
        "naive_wall_s": round(naive_wall, 3),
        "call_ratio": round(naive.calls / calls, 1),
        "wall_ratio": round(naive_wall / stocksync_wall, 1),
    }


def _check_converged(fleet: Any, catalog: bench_catalog.Catalog, every: int) -> None:
    """Both syncers must leave every store showing desired, or their numbers mean nothing."""
    for store_id, store in fleet.stores.items():
        for i in range(1, catalog.variants + 1):
            item = store.items[bench_catalog.external_id(i)]
            wanted = catalog.desired(i, every)
            if (item.available, item.quantity) != (True, wanted):
                raise AssertionError(f"{store_id} {item.external_id} shows {item.quantity}, desired {wanted}")
