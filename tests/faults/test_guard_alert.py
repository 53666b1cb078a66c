"""Fault case 4: upstream says "everything is out of stock" (an event batch, or a stock import), or sends
an empty feed. The mass-unavailable guard holds every affected store, the alert metrics rise
(`stocksync_guard_held{store_id}` = 1, `stocksync_guard_trips_total` up), nothing is written until an
operator confirms with `stocksync sync STORE --confirm-guard`; then the writes happen and the alert clears.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.db.pool import Pool
from tests.e2e.daemon_process import Daemon, eventually, running_daemon
from tests.e2e.harness import World, world
from tests.faults.app_client import signed_headers
from tests.faults.daemon_world import (
    FACILITIES,
    OUT,
    at_least,
    catalog,
    cli,
    first_passes_done,
    metric,
    scrape,
)

STORES = {"na": "north_america", "ww": "worldwide", "eu": "europe"}


def everything_out(variants: list[str]) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {"event_id": f"all-out-{v}-{f}", "variant_id": v, "facility_id": f, "status": OUT, "quantity": None}
        | {"occurred_at": now}
        for v in variants
        for f in FACILITIES
    ]


async def held_stores(pool: Pool, stores: list[str]) -> bool:
    held = await pool.fetchval(
        "SELECT count(DISTINCT store_id) FROM sync_runs WHERE outcome = 'held' AND store_id = ANY($1)", stores
    )
    return int(held) == len(stores)


def total_writes(w: World) -> int:
    return sum(len(w.writes(store_id)) for store_id in w.sandboxes)


async def hold_then_confirm(
    w: World, daemon: Daemon, trip: Callable[[], Any], variants: int, settle_s: float
) -> dict[str, Any]:
    """Trip the guard, check every store is held with the alert up and nothing written, then confirm."""
    stores = list(w.sandboxes)
    trips_before = metric(await scrape(daemon), "stocksync_guard_trips_total")
    await trip()
    assert await eventually(lambda: held_stores(w.pool, stores), 30), "not every store was held"
    await asyncio.sleep(settle_s)  # queued retries or later passes must not write either
    text = await scrape(daemon)
    assert all(metric(text, "stocksync_guard_held", store_id=s) == 1 for s in stores)
    trips = metric(text, "stocksync_guard_trips_total") - trips_before
    assert trips >= len(stores)
    written_while_held = total_writes(w)
    assert written_while_held == 0
    for store_id in stores:  # the operator looked at the plan and confirms
        status, output = await cli(daemon, "sync", store_id, "--confirm-guard")
        assert status == 0, output[-2000:]
    assert all(w.shown(s, f"E-v{i:04d}") == (False, None) for s in stores for i in range(variants))
    assert metric(await scrape(daemon), "stocksync_guard_held") == 0  # the alert clears
    return {
        "stores_held": len(stores),
        "guard_trips": int(trips),
        "written_before_confirm": written_while_held,
        "written_after_confirm": total_writes(w),
    }


async def run_everything_out_by_events(
    pool: Pool, db_dsn: str, tmp_path: Path, stores: dict[str, str], variants: int, settle_s: float
) -> dict[str, Any]:
    async with world(pool, tmp_path) as w:
        ids = await catalog(w, stores, variants)
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            await first_passes_done(pool, len(stores))

            async def trip() -> None:
                status, body = await daemon.post_events(everything_out(ids))
                assert status == 202, body

            return await hold_then_confirm(w, daemon, trip, variants, settle_s)


async def run_everything_out_by_import(
    pool: Pool, db_dsn: str, tmp_path: Path, stores: dict[str, str], variants: int, settle_s: float
) -> dict[str, Any]:
    async with world(pool, tmp_path) as w:
        ids = await catalog(w, stores, variants)
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            await first_passes_done(pool, len(stores))
            feed = tmp_path / "stock.json"
            rows = [
                {"variant_id": v, "facility_id": f, "status": OUT, "quantity": ""}
                for v in ids
                for f in FACILITIES
            ]

            async def trip() -> None:
                feed.write_text(json.dumps(rows))
                status, output = await cli(daemon, "import", "stock", str(feed))
                assert status == 0, output
                assert await catalog_updated(daemon) == 202  # the back office says: the catalog changed

            return await hold_then_confirm(w, daemon, trip, variants, settle_s)


async def catalog_updated(daemon: Daemon) -> int:
    async with daemon.session.post(
        daemon.url + "/v1/catalog-updated", data=b"", headers=signed_headers(b"")
    ) as response:
        return response.status


async def test_everything_out_by_events_is_held_until_confirmed(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    stores = {k: STORES[k] for k in ("na", "ww")}
    figures = await run_everything_out_by_events(pool, db_dsn, tmp_path, stores, 10, settle_s=0.5)
    figure("4 guard: all out by events", variants=10, **figures)


async def test_everything_out_by_import_is_held_until_confirmed(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    stores = {k: STORES[k] for k in ("na", "eu")}
    figures = await run_everything_out_by_import(pool, db_dsn, tmp_path, stores, 10, settle_s=0.5)
    figure("4 guard: all out by stock import", variants=10, **figures)


@pytest.mark.faults
async def test_everything_out_by_events_is_held_until_confirmed_full(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    figures = await run_everything_out_by_events(pool, db_dsn, tmp_path, STORES, 500, settle_s=5)
    figure("4 guard: all out by events (full)", variants=500, **figures)


@pytest.mark.faults
async def test_everything_out_by_import_is_held_until_confirmed_full(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    figures = await run_everything_out_by_import(pool, db_dsn, tmp_path, STORES, 500, settle_s=5)
    figure("4 guard: all out by stock import (full)", variants=500, **figures)


@pytest.mark.parametrize("feed", ["variant_id,facility_id,status,quantity\n", "[]"])
async def test_an_empty_stock_feed_changes_and_writes_nothing(
    pool: Pool, db_dsn: str, tmp_path: Path, feed: str, figure: Callable[..., None]
) -> None:
    async with world(pool, tmp_path) as w:
        await catalog(w, {"na": STORES["na"]}, 10)
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            await first_passes_done(pool, 1)
            stock_before = await pool.fetch("SELECT * FROM facility_stock ORDER BY variant_id, facility_id")
            path = tmp_path / ("stock.json" if feed == "[]" else "stock.csv")
            path.write_text(feed)
            status, output = await cli(daemon, "import", "stock", str(path))
            assert status in (0, 2), output
            assert await catalog_updated(daemon) == 202
            done = "SELECT count(*) FROM sync_runs WHERE trigger = 'catalog' AND outcome = 'ok'"
            assert await eventually(lambda: at_least(pool, done, 1), 30)
            assert (
                await pool.fetch("SELECT * FROM facility_stock ORDER BY variant_id, facility_id")
                == stock_before
            )
            assert total_writes(w) == 0 and not await held_stores(pool, ["na"])
    figure(f"4 guard: empty feed ({path.suffix[1:]})", import_exit=status, written=0, held=0)
