"""Scenario 5: signed upstream events into a running daemon; request → write arriving at the store.

Every part the daemon talks to runs in its own process: the load generator (tests/bench/loadgen.py)
and one `stocksync sandbox serve` per store, pinned to the load side's core; the daemon is pinned to
the other core(s); PostgreSQL is not pinned. Each repeat starts from a fresh database, daemon and
stores (shipped defaults), then runs the rates in ascending order, as a daemon that has been up for a
while sees them. Besides times, each round reports CPU seconds per 1,000 events of the daemon and of
the PostgreSQL server (read from /proc), and commits per request and per written item
(pg_stat_database), which do not depend on this machine's speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.bench import catalog as bench_catalog
from tests.bench import cpu
from tests.bench.catalog import TOKEN
from tests.bench.environment import fresh_database
from tests.bench.fleet import store_settings
from tests.bench.processes import sandbox_process
from tests.e2e.daemon_process import WEBHOOK_SECRET, Daemon, free_port, running_daemon

STORES = 4
BATCH_LIMIT = 100
PAGE_SIZE = 100
DRAIN_S = 10.0  # how long writes may still arrive after the last event was sent
SAMPLE_S = 0.5  # queue depth sampling while events are sent


async def run(
    server_dsn: str, *, rates: list[int], seconds: float, variants: int, repeats: int = 1
) -> dict[str, Any]:
    cores = cpu.split_cores()
    runs = [await _one_repeat(server_dsn, rates, seconds, variants, cores) for _ in range(repeats)]
    by_rate = {str(rate): [r[str(rate)] for r in runs] for rate in rates}
    return {
        "stores": STORES,
        "seconds_per_rate": seconds,
        "repeats": repeats,
        "cores": cores.describe() if cores else "one core: nothing pinned",
        "rates": {rate: _spread(rounds) for rate, rounds in by_rate.items()},
        "runs": by_rate,
        "max_sustained_per_s": {
            "min": min(_max_sustained(run, rates) for run in runs),
            "median": statistics.median(_max_sustained(run, rates) for run in runs),
            "max": max(_max_sustained(run, rates) for run in runs),
        },
    }


def _max_sustained(run: dict[str, Any], rates: list[int]) -> int:
    return max((r for r in rates if run[str(r)]["sustained"]), default=0)


_SPREAD = (
    "p50_ms",
    "p99_ms",
    "max_ms",
    "daemon_cpu_s_per_1000",
    "postgres_cpu_s_per_1000",
    "commits_per_request",
    "commits_per_item",
    "achieved_rate_per_s",
)


def _spread(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """min / median / max over the repeats of each figure, and how many repeats sustained the rate."""
    spread: dict[str, Any] = {"sustained": f"{sum(r['sustained'] for r in rounds)}/{len(rounds)}"}
    for key in _SPREAD:
        values = [r[key] for r in rounds if r.get(key) is not None]
        if values:
            spread[key] = {
                "min": min(values),
                "median": round(statistics.median(values), 2),
                "max": max(values),
            }
    return spread


@dataclass
class _Stores:
    urls: dict[str, str]
    pids: list[int]


@asynccontextmanager
async def store_processes(stack_dir: Path, store_ids: list[str]) -> AsyncIterator[_Stores]:
    async with AsyncExitStack() as stack:
        urls = {}
        for store_id in store_ids:
            urls[store_id] = await stack.enter_async_context(
                sandbox_process(
                    stack_dir, free_port(), "--batch-limit", str(BATCH_LIMIT), "--page-size", str(PAGE_SIZE)
                )
            )
        yield _Stores(urls, _sandbox_children())


def _sandbox_children() -> list[int]:
    """The sandbox processes: children of this one running `stocksync sandbox serve`."""
    return [
        pid for pid in cpu.children_of(os.getpid()) if b"sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


@dataclass
class InSyncFleet:
    """A fresh database, the partitioned catalog and its stores, each in its own process, all in sync."""

    workdir: Path
    dsn: str
    pool: Pool
    stores: _Stores
    session: aiohttp.ClientSession


@asynccontextmanager
async def in_sync_fleet(server_dsn: str, variants: int) -> AsyncIterator[InSyncFleet]:
    store_ids = [f"s{n}" for n in range(STORES)]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with (
            fresh_database(server_dsn) as (dsn, pool),
            store_processes(workdir, store_ids) as stores,
            aiohttp.ClientSession() as session,
        ):
            settings = {
                s: store_settings(stores.urls[s], batch_limit=BATCH_LIMIT, page_size=PAGE_SIZE)
                for s in store_ids
            }
            catalog = await bench_catalog.create(pool, workdir, settings, variants, partitioned=True)
            for store_id in store_ids:
                await seed_store(
                    session, stores.urls[store_id], bench_catalog.in_sync_items(catalog, store_id)
                )
            yield InSyncFleet(workdir, dsn, pool, stores, session)


async def _one_repeat(
    server_dsn: str, rates: list[int], seconds: float, variants: int, cores: cpu.Cores | None
) -> dict[str, Any]:
    async with in_sync_fleet(server_dsn, variants) as fleet:
        workdir, dsn, pool, stores, session = (
            fleet.workdir,
            fleet.dsn,
            fleet.pool,
            fleet.stores,
            fleet.session,
        )
        postmaster = await cpu.postmaster_pid(dsn)
        async with running_daemon(dsn, workdir, workdir, shipped_defaults=True) as daemon:
            if cores is not None:
                cpu.pin([daemon.process.pid], cores.measured)
                cpu.pin(stores.pids, cores.load)
            secret_file = workdir / "loadgen-secret"
            secret_file.write_text(WEBHOOK_SECRET)
            round_ = _Round(daemon, stores, pool, session, postmaster, cores, secret_file, variants)
            return {
                str(rate): await round_.run(rate, seconds, number) for number, rate in enumerate(rates, 1)
            }


async def seed_store(session: aiohttp.ClientSession, url: str, items: list[dict[str, object]]) -> None:
    for start in range(0, len(items), 5_000):
        async with session.post(
            f"{url}/control/items",
            json={"items": items[start : start + 5_000]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            response.raise_for_status()


@dataclass
class _Round:
    daemon: Daemon
    stores: _Stores
    pool: Pool
    session: aiohttp.ClientSession
    postmaster: int | None
    cores: cpu.Cores | None
    secret_file: Path
    variants: int

    async def run(self, rate: int, seconds: float, number: int) -> dict[str, Any]:
        await self._clear_writes()
        commits_before = await self._commits()
        daemon_before = cpu.process_cpu_s(self.daemon.process.pid)
        server_before = cpu.server_cpu_s(self.postmaster) if self.postmaster else 0.0
        output = Path(self.secret_file.parent, f"loadgen-{number}.json")
        load = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.bench.loadgen",
            "--url",
            self.daemon.url,
            "--secret-file",
            str(self.secret_file),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--variants",
            str(self.variants),
            "--round",
            str(number),
            "--output",
            str(output),
        )
        if self.cores is not None:
            cpu.pin([load.pid], self.cores.load)
        started = time.perf_counter()
        depth: list[tuple[float, int]] = []
        while load.returncode is None:
            depth.append((time.perf_counter() - started, await _queued(self.pool)))
            try:
                await asyncio.wait_for(load.wait(), SAMPLE_S)
            except TimeoutError:
                pass
        if load.returncode != 0:
            raise RuntimeError(f"load generator exited {load.returncode}")
        sent_doc = json.loads(await asyncio.to_thread(output.read_text))
        backlog_at_end = await _queued(self.pool)
        sent = {(x, q): at for x, q, at in sent_doc["sent"]}
        latencies = await self._latencies(sent)
        await asyncio.sleep(1.0)  # statistics reach pg_stat_database at most once a second
        commits = await self._commits() - commits_before
        daemon_cpu = cpu.process_cpu_s(self.daemon.process.pid) - daemon_before
        server_cpu = (cpu.server_cpu_s(self.postmaster) - server_before) if self.postmaster else None
        requests = len(sent) / sent_doc["events_per_request"]
        summary = _summary(
            latencies, len(sent), sent_doc["refused"], sent_doc["send_s"], depth, backlog_at_end, rate
        )
        per_1000 = 1000 / max(1, len(sent))
        return summary | {
            "events_per_request": sent_doc["events_per_request"],
            "answer_p99_ms": sent_doc["answer_p99_ms"],
            "daemon_cpu_s_per_1000": round(daemon_cpu * per_1000, 3),
            "postgres_cpu_s_per_1000": round(server_cpu * per_1000, 3) if server_cpu is not None else None,
            "commits": commits,
            "commits_per_request": round(commits / max(1, requests), 2),
            "commits_per_item": round(commits / max(1, len(latencies)), 2),
        }

    async def _commits(self) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            )
        )

    async def _clear_writes(self) -> None:
        for url in self.stores.urls.values():
            async with self.session.delete(
                f"{url}/control/writes", headers={"Authorization": f"Bearer {TOKEN}"}
            ):
                pass

    async def _latencies(self, sent: dict[tuple[str, int], float]) -> list[float]:
        """Seconds from sending each event to its write arriving, waiting up to DRAIN_S for stragglers."""
        deadline = time.monotonic() + DRAIN_S
        while True:
            arrived: dict[tuple[str, int], float] = {}
            for url in self.stores.urls.values():
                async with self.session.get(
                    f"{url}/control/writes", headers={"Authorization": f"Bearer {TOKEN}"}
                ) as r:
                    for write in (await r.json())["writes"]:
                        if write.get("quantity") is not None:
                            arrived.setdefault((write["external_id"], write["quantity"]), write["at"])
            if all(key in arrived for key in sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        return [arrived[key] - at for key, at in sent.items() if key in arrived]


async def _queued(pool: Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM work_queue WHERE status IN ('queued', 'running')"))


def _summary(
    latencies: list[float],
    sent: int,
    refused: int,
    send_s: float,
    depth: list[tuple[float, int]],
    backlog_at_end: int,
    rate: int,
) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    slope = _slope(depth)
    return {
        "events": sent,
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
        "sustained": slope < 0.05 * rate and len(ms) == sent and refused == 0,
    }


def _slope(points: list[tuple[float, int]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
