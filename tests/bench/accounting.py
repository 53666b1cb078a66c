"""Database round trips and commits of the event path, per request and per written item.

One daemon (shipped defaults) reaches PostgreSQL through a counting proxy (tests/bench/wire_count.py).
First, batches of events for variants no store syncs: what ingesting a request costs on its own. Then
batches for synced variants: what the rest of the path (claim, pass, write, bookkeeping) costs per item
written. The daemon's idle background (polling, scheduler, pass marks) is measured first and subtracted.
Sent one request at a time, so the figures do not depend on this machine's speed. "Commits" count
transactions that wrote (read-only ones cost no commit record and no flush), read from the server's next
transaction id, so they are exact at once where pg_stat_database lags by seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.bench.catalog import TOKEN
from tests.bench.latency import in_sync_fleet
from tests.bench.wire_count import Counter, counting_proxy
from tests.e2e.daemon_process import Daemon, running_daemon

EVENTS_PER_REQUEST = 10
IDLE_S = 10.0

_UNSYNCED = (
    "INSERT INTO variants (id, sku, kind) SELECT 'u' || i, 'U-' || i, 'warehouse' FROM generate_series(1, $1) AS i",
    "INSERT INTO facility_stock (variant_id, facility_id, status, quantity)"
    " SELECT 'u' || i, 'us1', 'in_stock', 1 FROM generate_series(1, $1) AS i",
)


async def run(server_dsn: str, *, requests: int, variants: int) -> dict[str, Any]:
    async with in_sync_fleet(server_dsn, variants) as fleet:
        for statement in _UNSYNCED:
            await fleet.pool.execute(statement, requests * EVENTS_PER_REQUEST)
        pool, session, stores = fleet.pool, fleet.session, fleet.stores
        async with (
            counting_proxy(fleet.dsn) as (proxied, counter),
            running_daemon(proxied, fleet.workdir, fleet.workdir, shipped_defaults=True) as daemon,
        ):
            await asyncio.sleep(2.0)  # start-up settles
            idle = await _window(counter, pool, asyncio.sleep(IDLE_S))
            background_rt_per_s = idle[0] / IDLE_S
            background_commits_per_s = idle[1] / IDLE_S
            ingest, ingest_s = await _timed(counter, pool, _send(daemon, requests, unsynced))
            path, path_s = await _timed(
                counter, pool, _send_and_drain(daemon, session, stores.urls, pool, requests, variants)
            )
    items = requests * EVENTS_PER_REQUEST
    ingest_rt = ingest[0] - background_rt_per_s * ingest_s
    ingest_commits = ingest[1] - background_commits_per_s * ingest_s
    path_rt = path[0] - background_rt_per_s * path_s - ingest_rt
    path_commits = path[1] - background_commits_per_s * path_s - ingest_commits
    return {
        "requests": requests,
        "events_per_request": EVENTS_PER_REQUEST,
        "background_round_trips_per_s": round(background_rt_per_s, 1),
        "round_trips_per_request": round(ingest_rt / requests, 2),
        "commits_per_request": round(ingest_commits / requests, 2),
        "round_trips_per_item": round(path_rt / items, 2),
        "commits_per_item": round(path_commits / items, 2),
        "background_commits_per_s": round(background_commits_per_s, 2),
    }


async def _commits(pool: Pool) -> int:
    """The server's next transaction id: only a transaction that writes takes one, reading it takes none."""
    return int(await pool.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))


async def _window(counter: Counter, pool: Pool, work: Any) -> tuple[int, int]:
    rt, commits = counter.round_trips, await _commits(pool)
    await work
    return counter.round_trips - rt, await _commits(pool) - commits


async def _timed(counter: Counter, pool: Pool, work: Any) -> tuple[tuple[int, int], float]:
    started = time.monotonic()
    counts = await _window(counter, pool, work)
    return counts, time.monotonic() - started


def unsynced(n: int) -> str:
    return f"u{n}"


def synced(n: int) -> str:
    return f"v{n:07d}"


async def _send(daemon: Daemon, requests: int, variant: Callable[[int], str]) -> None:
    """`requests` batches of EVENTS_PER_REQUEST events for variants 1, 2, ... (named by `variant`)."""
    at = datetime.now(UTC).isoformat()
    for r in range(requests):
        events = [
            {
                "event_id": f"{variant(0)}-{r}-{k}",
                "variant_id": variant(r * EVENTS_PER_REQUEST + k + 1),
                "facility_id": "us1",
                "status": "in_stock",
                "quantity": 500 + r,
                "occurred_at": at,
            }
            for k in range(EVENTS_PER_REQUEST)
        ]
        status, body = await daemon.post_events(events)
        if status != 202:
            raise RuntimeError(f"event batch refused: {status} {body}")


async def _send_and_drain(
    daemon: Daemon,
    session: aiohttp.ClientSession,
    urls: dict[str, str],
    pool: Pool,
    requests: int,
    variants: int,
) -> None:
    assert requests * EVENTS_PER_REQUEST <= variants
    await _send(daemon, requests, synced)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        written = 0
        for url in urls.values():
            async with session.get(
                f"{url}/control/writes", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as r:
                written += len((await r.json())["writes"])
        busy = await pool.fetchval("SELECT count(*) FROM work_queue WHERE status IN ('queued', 'running')")
        if written >= requests * EVENTS_PER_REQUEST and busy == 0:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the writes did not all arrive within 60 s")
