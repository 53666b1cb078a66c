"""Scenario 4: full-pass throughput against a zero-latency sandbox store, and the daemon's peak RSS.

The store runs in its own process. Throughput is one in-process pass over every synced variant
(reads in the store's largest pages, 1 % changed and written); peak RSS is a `stocksync sync` process
doing the same pass at the larger size, measured by wait4.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.bench import catalog as bench_catalog
from tests.bench.environment import fresh_database
from tests.bench.fleet import bench_engine, seed_items, store_settings
from tests.bench.processes import STOCKSYNC, run_measured, sandbox_process
from tests.e2e.daemon_process import free_port

PAGE_SIZE = 500  # ids per read: 500 ids keep the request line under aiohttp's 8 KiB limit
BATCH_LIMIT = 250
CHANGED_EVERY = 100  # 1 %
OBSERVE_CHUNK = 5_000


async def run(server_dsn: str, *, variants: int, rss_variants: int) -> dict[str, Any]:
    throughput = await _throughput(server_dsn, variants)
    rss = await _peak_rss(server_dsn, rss_variants)
    return throughput | rss


@asynccontextmanager
async def _one_big_store(
    server_dsn: str, workdir: Path, variants: int
) -> AsyncIterator[tuple[str, Pool, int]]:
    """Store "big" in its own sandbox process, seeded in sync, then 1 % changed upstream."""
    async with (
        sandbox_process(
            workdir, free_port(), "--page-size", str(PAGE_SIZE), "--batch-limit", str(BATCH_LIMIT)
        ) as url,
        fresh_database(server_dsn) as (dsn, pool),
        aiohttp.ClientSession() as session,
    ):
        settings = {"big": store_settings(url, batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE)}
        catalog = await bench_catalog.create(pool, workdir, settings, variants)
        await seed_items(session, url, bench_catalog.in_sync_items(catalog))
        yield dsn, pool, await bench_catalog.change_upstream(pool, catalog, CHANGED_EVERY)


async def _throughput(server_dsn: str, variants: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with (
            _one_big_store(server_dsn, workdir, variants) as (_, pool, changed),
            bench_engine(pool, workdir, sync={"observe_chunk": OBSERVE_CHUNK}) as engine,
        ):
            started = time.perf_counter()
            report = await engine.run_pass("big", trigger="cli")
            wall = time.perf_counter() - started
    if report.outcome != "ok" or report.counts.changed != changed:
        raise AssertionError(f"full pass {report.outcome}: {report.counts} (expected {changed} changes)")
    return {
        "variants": variants,
        "changed": changed,
        "full_pass_s": round(wall, 3),
        "variants_per_s": round(variants / wall),
    }


async def _peak_rss(server_dsn: str, variants: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with _one_big_store(server_dsn, workdir, variants) as (dsn, _, changed):
            env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")} | {
                "STOCKSYNC_DATABASE__DSN": dsn,
                "STOCKSYNC_CREDENTIALS__DIRECTORY": str(workdir),
                "STOCKSYNC_SYNC__OBSERVE_CHUNK": str(OBSERVE_CHUNK),
                "STOCKSYNC_LOGGING__FORMAT": "json",
            }
            finished = run_measured([STOCKSYNC, "sync", "big", "--format", "json"], env)
    if finished.returncode != 0 or f'"changed": {changed}' not in finished.output:
        raise AssertionError(f"stocksync sync failed ({finished.returncode}):\n{finished.output[-2000:]}")
    return {
        "rss_variants": variants,
        "rss_pass_s": round(finished.wall_s, 2),
        "peak_rss_mb": round(finished.peak_rss_mb, 1),
    }
