"""Scenario: events ahead of bulk work. A full pass of a large store against a platform that allows a
few requests per second takes minutes; upstream events for that store must not wait behind it.

One sandbox store (its own process) with `variants` items answers at most `rate` requests/s (429 past
that); 1 % of the variants changed upstream, so the pass has writes to make. While the pass runs,
events for other variants of the same store arrive at `events_per_s`. Figures: event → write at the
store (p50 / p99 / max), and the pass's write calls against its floor (⌈changed / batch⌉), counted from
the batches that carried the changed variants.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.bench import catalog as bench_catalog
from tests.bench.catalog import TOKEN
from tests.bench.environment import fresh_database
from tests.bench.fleet import store_settings
from tests.bench.latency import seed_store
from tests.bench.processes import sandbox_process
from tests.e2e.daemon_process import Daemon, free_port, running_daemon

BATCH_LIMIT = 100
PAGE_SIZE = 500  # ids per read; the sandbox takes them in its URL (8 KiB request line)
CHANGED_EVERY = 100
PASS_TIMEOUT_S = 900.0
# The store is declared at 80 % of its limit: two request streams (the pass and the events) paced at
# exactly the limit arrive with network jitter, and one early arrival is a 429 that halves the pacer's
# rate for ten minutes (reconcilers/ratelimit.py) — measured here: 2 such 429s in 3 of 4 runs.
DECLARED_SHARE = 0.8


async def run(server_dsn: str, *, variants: int, rate: float, events_per_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with (
            fresh_database(server_dsn) as (dsn, pool),
            sandbox_process(
                workdir,
                free_port(),
                "--rate",
                str(rate),
                "--page-size",
                str(PAGE_SIZE),
                "--batch-limit",
                str(BATCH_LIMIT),
            ) as url,
            aiohttp.ClientSession() as session,
        ):
            settings = store_settings(
                url, batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE, rate_per_s=rate * DECLARED_SHARE
            )
            catalog = await bench_catalog.create(pool, workdir, {"big": settings}, variants)
            await seed_store(session, url, bench_catalog.in_sync_items(catalog))
            changed = await bench_catalog.change_upstream(pool, catalog, CHANGED_EVERY)
            async with running_daemon(dsn, workdir, workdir, shipped_defaults=True) as daemon:
                status, body = await daemon.admin("POST", "/v1/stores/big/sync")
                if status != 202:
                    raise RuntimeError(f"full pass not queued: {status} {body}")
                await _until(lambda: _pass_running(pool), 60)
                started = time.monotonic()
                sent = await _send_while_pass_runs(daemon, pool, variants, events_per_s)
                pass_s = time.monotonic() - started
                latencies = await _event_latencies(session, url, sent)
                writes = await _writes(session, url)
                async with session.get(
                    f"{url}/control/stats", headers={"Authorization": f"Bearer {TOKEN}"}
                ) as r:
                    throttled = (await r.json())["throttled_429"]
    changed_ids = {bench_catalog.external_id(i) for i in range(CHANGED_EVERY, variants + 1, CHANGED_EVERY)}
    pass_batches = {w["batch_id"] for w in writes if w["external_id"] in changed_ids}
    written_changed = {w["external_id"] for w in writes if w["external_id"] in changed_ids}
    ms = sorted(x * 1000 for x in latencies)
    return {
        "variants": variants,
        "store_rate_per_s": rate,
        "declared_rate_per_s": rate * DECLARED_SHARE,
        "events_per_s": events_per_s,
        "changed": changed,
        "pass_s_after_first_event": round(pass_s, 1),
        "pass_write_calls": len(pass_batches),
        "pass_write_floor": math.ceil(changed / BATCH_LIMIT),
        "pass_changes_written": len(written_changed),
        "throttled_429": throttled,
        "events": len(sent),
        "events_written": len(ms),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1) if ms else None,
        "max_ms": round(ms[-1], 1) if ms else None,
    }


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the full pass")
        await asyncio.sleep(0.1)


async def _pass_running(pool: Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM sync_runs WHERE store_id = 'big' AND trigger = 'manual' AND outcome = 'running'"
        )
    )


async def _pass_finished(pool: Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM sync_runs WHERE store_id = 'big' AND trigger = 'manual' AND finished_at IS NOT NULL"
        )
    )


async def _send_while_pass_runs(
    daemon: Daemon, pool: Pool, variants: int, events_per_s: float
) -> dict[tuple[str, int], float]:
    """One event at a time for variants the pass has nothing to write for; until the pass is done."""
    sent: dict[tuple[str, int], float] = {}
    n = 0
    started = time.monotonic()
    while not await _pass_finished(pool):
        if time.monotonic() - started > PASS_TIMEOUT_S:
            raise RuntimeError(f"the full pass did not finish in {PASS_TIMEOUT_S:g} s")
        n += 1
        i = (n * 37) % variants + 1
        if i % CHANGED_EVERY == 0:
            continue
        quantity = 5_000 + n
        at = time.time()
        status, body = await daemon.post_events(
            [
                {
                    "event_id": f"ahead-{n}",
                    "variant_id": f"v{i:07d}",
                    "facility_id": "us1",
                    "status": "in_stock",
                    "quantity": quantity,
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            ]
        )
        if status != 202:
            raise RuntimeError(f"event refused: {status} {body}")
        sent[(bench_catalog.external_id(i), quantity)] = at
        await asyncio.sleep(max(0.0, started + n / events_per_s - time.monotonic()))
    return sent


async def _writes(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/control/writes", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        return list((await r.json())["writes"])


async def _event_latencies(
    session: aiohttp.ClientSession, url: str, sent: dict[tuple[str, int], float]
) -> list[float]:
    deadline = time.monotonic() + 30
    while True:
        arrived: dict[tuple[str, int], float] = {}
        for write in await _writes(session, url):
            if write.get("quantity") is not None:
                arrived.setdefault((write["external_id"], write["quantity"]), write["at"])
        if all(k in arrived for k in sent) or time.monotonic() > deadline:
            return [arrived[k] - at for k, at in sent.items() if k in arrived]
        await asyncio.sleep(0.25)
