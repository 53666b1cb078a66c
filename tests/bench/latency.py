"""Scenario 5: signed upstream events into a running daemon; request → write arriving at the store.

Each event sets a new us1 quantity for one variant; every variant is synced by exactly one of the
sandbox stores (which run in this process, so send and arrival share one clock). At ≤ 200 events/s
each request carries one event; above that, requests carry rate/100 events (100 requests/s).
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from reconcilers.signatures import sign_stocksync
from tests.bench import catalog as bench_catalog
from tests.bench.environment import fresh_database
from tests.bench.fleet import Fleet, sandbox_fleet, seed_items, store_settings
from tests.e2e.daemon_process import WEBHOOK_SECRET, Daemon, running_daemon

STORES = 4
BATCH_LIMIT = 100
PAGE_SIZE = 100
DRAIN_S = 10.0  # how long writes may still arrive after the last event was sent


async def run(server_dsn: str, *, rates: list[int], seconds: float, variants: int) -> dict[str, Any]:
    store_ids = [f"s{n}" for n in range(STORES)]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with (
            fresh_database(server_dsn) as (dsn, pool),
            sandbox_fleet(store_ids, batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE) as fleet,
            aiohttp.ClientSession() as session,
        ):
            settings = {
                s: store_settings(fleet.urls[s], batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE)
                for s in store_ids
            }
            catalog = await bench_catalog.create(pool, workdir, settings, variants, partitioned=True)
            for store_id in store_ids:
                await seed_items(
                    session, fleet.urls[store_id], bench_catalog.in_sync_items(catalog, store_id)
                )
            async with running_daemon(dsn, workdir, workdir, sync={"poll_interval_s": 1.0}) as daemon:
                results = {}
                for round_no, rate in enumerate(rates, start=1):
                    sender = _Sender(daemon, catalog, round_no)
                    results[str(rate)] = await _one_rate(sender, fleet, pool, rate, seconds)
    sustained = [r for r in rates if results[str(r)]["sustained"]]
    return {
        "stores": STORES,
        "seconds_per_rate": seconds,
        "rates": results,
        "max_sustained_per_s": max(sustained, default=0),
    }


class _Sender:
    """Signs and posts events; remembers when each (external id, quantity) was asked for."""

    def __init__(self, daemon: Daemon, catalog: bench_catalog.Catalog, round_no: int) -> None:
        self._daemon = daemon
        self._catalog = catalog
        self._round = round_no
        self._next = 1
        self.sent: dict[tuple[str, int], tuple[str, float]] = {}  # (external id, qty) → (store, sent at)
        self.refused = 0

    def events(self, count: int) -> list[dict[str, Any]]:
        batch = []
        for _ in range(count):
            i = self._next
            self._next = self._next % self._catalog.variants + 1
            quantity = bench_catalog.base_quantity(i) + 1000 * self._round + self._next
            batch.append(
                {
                    "event_id": f"r{self._round}-{i}-{quantity}",
                    "variant_id": f"v{i:07d}",
                    "facility_id": "us1",
                    "status": "in_stock",
                    "quantity": quantity,
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            )
            self.sent[(bench_catalog.external_id(i), quantity)] = (self._catalog.store_of(i), time.time())
        return batch

    async def post(self, events: list[dict[str, Any]]) -> None:
        body = json.dumps({"events": events}).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Stocksync-Timestamp": str(ts),
            "X-Stocksync-Signature": sign_stocksync(WEBHOOK_SECRET, ts, body),
        }
        async with self._daemon.session.post(
            self._daemon.url + "/v1/stock-events", data=io.BytesIO(body), headers=headers
        ) as response:
            if response.status != 202:
                self.refused += len(events)


async def _one_rate(sender: _Sender, fleet: Fleet, pool: Pool, rate: int, seconds: float) -> dict[str, Any]:
    fleet.reset_counters()
    per_request = max(1, rate // 100) if rate > 200 else 1
    interval = per_request / rate
    posts: set[asyncio.Task[None]] = set()
    depth: list[tuple[float, int]] = []
    started = time.perf_counter()
    ticks = int(seconds * rate / per_request)
    for tick in range(ticks):
        await asyncio.sleep(max(0.0, started + tick * interval - time.perf_counter()))
        task = asyncio.create_task(sender.post(sender.events(per_request)))
        posts.add(task)
        task.add_done_callback(posts.discard)
        if tick % max(1, ticks // 20) == 0:
            depth.append((time.perf_counter() - started, await _queued(pool)))
    await asyncio.gather(*posts)
    send_s = time.perf_counter() - started
    backlog_at_end = await _queued(pool)
    latencies = await _latencies(sender, fleet)
    return _summary(
        latencies, len(sender.sent), sender.refused, send_s, depth, backlog_at_end, rate, per_request
    )


async def _queued(pool: Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM work_queue WHERE status IN ('queued', 'running')"))


async def _latencies(sender: _Sender, fleet: Fleet) -> list[float]:
    """Seconds from sending each event to its write arriving, waiting up to DRAIN_S for stragglers."""
    deadline = time.monotonic() + DRAIN_S
    while True:
        arrived: dict[tuple[str, int], float] = {}
        for store in fleet.stores.values():
            for write in store.write_log:
                if write.quantity is not None:
                    arrived.setdefault((write.external_id, write.quantity), write.at)
        if all(key in arrived for key in sender.sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    return [arrived[key] - at for key, (_, at) in sender.sent.items() if key in arrived]


def _summary(
    latencies: list[float],
    sent: int,
    refused: int,
    send_s: float,
    depth: list[tuple[float, int]],
    backlog_at_end: int,
    rate: int,
    per_request: int,
) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    slope = _slope(depth)
    return {
        "events": sent,
        "events_per_request": per_request,
        "achieved_rate_per_s": round(sent / send_s, 1),
        "refused": refused,
        "written": len(ms),
        "lost": sent - len(ms),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1) if ms else None,
        "max_ms": round(ms[-1], 1) if ms else None,
        "queue_growth_per_s": round(slope, 1),
        "backlog_at_end": backlog_at_end,
        # the queue did not grow: its depth trend stays under 5 % of the arrival rate, and all arrived
        "sustained": slope < 0.05 * rate and len(ms) == sent,
    }


def _slope(points: list[tuple[float, int]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
