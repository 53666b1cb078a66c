"""Fault case 4: upstream says "everything is out of stock" (an event batch, or a stock import), or sends
an empty feed. The mass-unavailable guard holds every affected store, the alert metrics rise
(`stocksync_guard_held{store_id}` = 1, `stocksync_guard_trips_total` up), nothing is written until an
operator confirms with `stocksync sync STORE --confirm-guard`; then the writes happen and the alert clears.

The guard holds the store, not one pass: a bad feed that keeps arriving in batches each below the
threshold (events, a stock import, then a full pass) writes nothing less sellable either, while a variant
coming back in stock is still written; undoing the bad feed upstream releases the store.
"""

from __future__ import annotations

import asyncio
import json
import time
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
    IN,
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
    return stock_events(variants, OUT, "all-out")


def stock_events(variants: list[str], status: str, tag: str) -> list[dict[str, Any]]:
    """One event per variant and facility (ids unique per tag)."""
    now = datetime.now(UTC).isoformat()
    return [
        {"event_id": f"{tag}-{v}-{f}", "variant_id": v, "facility_id": f, "status": status, "quantity": None}
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


async def queue_empty(pool: Pool) -> bool:
    """Every queued item was worked (a pass completes its items after its run row is finished)."""
    return (
        int(await pool.fetchval("SELECT count(*) FROM work_queue WHERE status IN ('queued', 'running')")) == 0
    )


async def post(daemon: Daemon, events: list[dict[str, Any]]) -> None:
    status, body = await daemon.post_events(events)
    assert status == 202, body


async def test_a_held_store_takes_no_less_sellable_write_from_events_import_or_passes(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    async with world(pool, tmp_path) as w:
        ids = await catalog(w, {"na": STORES["na"]}, 10, in_stock=lambda i: i != 9)
        async with running_daemon(db_dsn, tmp_path, w.credentials_dir) as daemon:
            await first_passes_done(pool, 1)
            trips_before = metric(await scrape(daemon), "stocksync_guard_trips_total")
            await post(daemon, stock_events(ids[:4], OUT, "trip"))  # 4 of 10 > 30 %: trips
            assert await eventually(lambda: held_stores(pool, ["na"]), 30)
            await post(daemon, stock_events(ids[4:6], OUT, "more"))  # 2 of 10: below on its own
            assert await eventually(lambda: queue_empty(pool), 30)
            feed = tmp_path / "stock.json"
            feed.write_text(
                json.dumps(
                    [
                        {"variant_id": ids[6], "facility_id": f, "status": OUT, "quantity": ""}
                        for f in FACILITIES
                    ]
                )
            )
            status, output = await cli(daemon, "import", "stock", str(feed))
            assert status == 0 and "1 store items queued" in output, output
            assert await eventually(lambda: queue_empty(pool), 30)
            status, output = await cli(daemon, "sync", "na", "--via-daemon")  # a full pass in the daemon
            assert status == 0, output
            assert await eventually(lambda: queue_empty(pool), 30)
            runs = await pool.fetch(
                "SELECT trigger, outcome FROM sync_runs WHERE trigger <> 'periodic' ORDER BY id"
            )
            assert {r["trigger"] for r in runs} >= {"event", "manual"} and {r["outcome"] for r in runs} == {
                "held"
            }
            held_writes = total_writes(w)
            assert held_writes == 0  # nothing less sellable from events, the import or the full pass

            await post(daemon, stock_events(ids[9:], IN, "back"))  # more sellable: written while held
            assert await eventually(lambda: queue_empty(pool), 30)
            assert w.writes("na") == ["E-v0009"] and w.shown("na", "E-v0009") == (True, None)
            text = await scrape(daemon)
            assert metric(text, "stocksync_guard_held", store_id="na") == 1
            trips = metric(text, "stocksync_guard_trips_total") - trips_before
            assert trips == 1  # one trip, however many passes it held

            status, output = await cli(daemon, "sync", "na", "--confirm-guard")
            assert status == 0, output
            assert [w.shown("na", f"E-{v}")[0] for v in ids] == [False] * 7 + [True] * 3
            assert metric(await scrape(daemon), "stocksync_guard_held", store_id="na") == 0
    figure(
        "4 guard: store held against events, import and a full pass",
        variants=10,
        tripped_by=4,
        flipped_later=3,
        written_while_held=held_writes,
        more_sellable_written_while_held=1,
        guard_trips=int(trips),
        written_on_confirm=7,
    )


@pytest.mark.faults
async def test_undoing_the_bad_feed_releases_the_store_with_shipped_defaults(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    async with world(pool, tmp_path) as w:
        ids = await catalog(w, {"na": STORES["na"]}, 10)
        # the release check runs on the shipped scheduler tick (15 s), not the test harness's 0.5 s
        async with running_daemon(
            db_dsn, tmp_path, w.credentials_dir, sync={"scheduler_tick_s": 15}
        ) as daemon:
            await first_passes_done(pool, 1)
            await post(daemon, stock_events(ids[:4], OUT, "trip"))
            assert await eventually(lambda: held_stores(pool, ["na"]), 30)
            assert metric(await scrape(daemon), "stocksync_guard_held", store_id="na") == 1
            await post(daemon, stock_events(ids[:4], IN, "undo"))  # desired = applied again: nothing queued
            undone = time.monotonic()

            async def released() -> bool:
                return metric(await scrape(daemon), "stocksync_guard_held", store_id="na") == 0

            assert await eventually(released, 40, interval_s=0.2)
            release_s = time.monotonic() - undone
            assert total_writes(w) == 0
    figure("4 guard: undone upstream releases the store", release_s=round(release_s, 1), written=0)
