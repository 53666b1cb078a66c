"""Scenario 6: a store limited to R requests/s and a backlog of changes: budget used, 429s received.

Two cases in one run: the store's settings declare its real limit, and they declare twice the real
limit (a merchant's plan was downgraded), where only the store's own answers can slow us down.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import catalog as bench_catalog
from tests.bench.environment import fresh_database
from tests.bench.fleet import bench_engine, sandbox_fleet, seed_items, store_settings

BURST = 10
BATCH_LIMIT = 10  # small batches: the backlog needs many requests
PAGE_SIZE = 100


async def run(server_dsn: str, *, rate: float, variants: int) -> dict[str, Any]:
    return {
        "declared_equals_limit": await _case(server_dsn, rate, variants, declared=rate),
        "declared_twice_limit": await _case(server_dsn, rate, variants, declared=2 * rate),
    }


async def _case(server_dsn: str, rate: float, variants: int, *, declared: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with (
            fresh_database(server_dsn) as (_, pool),
            sandbox_fleet(
                ["limited"], batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE, rate_per_s=rate, burst=BURST
            ) as fleet,
            aiohttp.ClientSession() as session,
            bench_engine(pool, workdir) as engine,
        ):
            url = fleet.urls["limited"]
            settings = {
                "limited": store_settings(
                    url, batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE, rate_per_s=declared
                )
            }
            catalog = await bench_catalog.create(pool, workdir, settings, variants)
            await seed_items(session, url, bench_catalog.in_sync_items(catalog))
            changed = await bench_catalog.change_upstream(pool, catalog, 1)  # every variant: a backlog
            store = fleet.stores["limited"]
            fleet.reset_counters()
            started = time.perf_counter()
            report = await engine.run_pass("limited", trigger="cli")
            wall = time.perf_counter() - started
            stats = store.stats
    accepted = stats.reads + stats.write_batches
    budget = BURST + rate * wall
    if report.counts.changed != changed:
        raise AssertionError(
            f"rate-limited pass wrote {report.counts.changed} of {changed}: {report.outcome}"
        )
    return {
        "limit_per_s": rate,
        "declared_per_s": declared,
        "requests_accepted": accepted,
        "wall_s": round(wall, 2),
        "budget_used": round(accepted / budget, 3),
        "throttled_429": stats.throttled_429,
        "throttled_after_first": max(0, stats.throttled_429 - 1),
    }
