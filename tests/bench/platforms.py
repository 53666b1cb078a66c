"""Scenario 7: every registered platform against its local fake — write calls against the platform's
floor, and what a full pass costs under the platform's documented rate limit.

Each platform's store holds `variants` items that all sell; upstream has `changed_percent` of them out
of stock, so one status-mode pass must make exactly those unsellable. The floor is what the platform's
documented write batching allows: Σ over write units ⌈changes in the unit / max write batch⌉ (a
store-wide unit is ⌈changes / batch⌉; one item per call is one call per change). Requests are counted
by the fake itself; writes are the requests made while the engine was inside apply(). The budget
figure is the pass's requests divided by the documented (unrefined) request rate: how long the pass
takes on a real store that paces it, independent of this machine.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemon.db.pool import Pool
from daemon.db.stores import load_store
from daemon.engine import Engine
from daemon.model import Change
from reconcilers import reconciler_class
from reconcilers.capabilities import Capabilities
from reconcilers.interface import Reconciler
from tests.bench.environment import fresh_database
from tests.bench.fleet import bench_engine
from tests.contract.platforms import ADAPTERS, PlatformAdapter
from tests.e2e.harness import CATALOG_SQL


async def run(
    server_dsn: str, *, variants: int, changed_percent: int, platforms: Sequence[str] = ()
) -> dict[str, Any]:
    names = [p for p in sorted(ADAPTERS) if not platforms or p in platforms]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with fresh_database(server_dsn) as (_, pool), bench_engine(pool, workdir) as engine:
            await pool.execute(CATALOG_SQL)
            for name in names:  # one store per platform in one database: no database per platform
                figures[name] = await _one(pool, engine, workdir, name, variants, changed_percent)
    return {"platforms": figures}


def write_floor(capabilities: Capabilities, external_ids: Sequence[str]) -> int:
    units: dict[str, int] = {}
    for external_id in external_ids:
        key = capabilities.unit_key(external_id)
        units[key] = units.get(key, 0) + 1
    return sum(math.ceil(n / capabilities.max_write_batch) for n in units.values())


class _CountingWrites:
    """Counts the fake's requests made inside apply(), whatever the platform's HTTP verbs are."""

    def __init__(self, engine: Engine, platform: PlatformAdapter) -> None:
        self.writes = 0
        self._engine = engine
        original = engine.reconciler_for

        def counted(store: Any) -> Reconciler:
            reconciler = original(store)
            apply = reconciler.apply

            async def apply_counted(changes: Sequence[Change]) -> Any:
                before = platform.requests()
                try:
                    return await apply(changes)
                finally:
                    self.writes += platform.requests() - before

            reconciler.apply = apply_counted  # type: ignore[method-assign]
            return reconciler

        engine.reconciler_for = counted  # type: ignore[method-assign]

    def detach(self) -> None:
        del self._engine.reconciler_for  # the class's own method again


async def _one(
    pool: Pool, engine: Engine, workdir: Path, name: str, variants: int, changed_percent: int
) -> dict[str, Any]:
    platform = ADAPTERS[name]()
    await platform.start()
    try:
        (workdir / name).write_text(platform.credential().reveal())
        changed = await _catalog(pool, platform, variants, changed_percent)
        counter = _CountingWrites(engine, platform)
        async with pool.acquire() as conn:
            store = await load_store(conn, name)
        capabilities = engine.reconciler_for(store).capabilities  # as refined by the settings
        before = platform.requests()
        started = time.perf_counter()
        first = await engine.run_pass(name, trigger="cli")
        wall = time.perf_counter() - started
        requests = platform.requests() - before
        first_writes = counter.writes
        second = await engine.run_pass(name, trigger="cli")
        second_writes = counter.writes - first_writes
        still_selling = sum(platform.sells(n) for n in changed)
    finally:
        counter.detach()
        await platform.stop()
    floor = write_floor(capabilities, [platform.external_id(n) for n in changed])
    documented = reconciler_class(name).capabilities.rate_budget.requests_per_second
    return {
        "variants": variants,
        "changes": len(changed),
        "changes_applied": first.counts.changed,
        "still_selling_after_pass": still_selling,
        "write_calls": first_writes,
        "write_floor": floor,
        "write_ratio": round(first_writes / floor, 2) if floor else None,
        "read_calls": requests - first_writes,
        "requests": requests,
        "second_pass_write_calls": second_writes,
        "second_pass_outcome": second.outcome,
        "max_read_batch": capabilities.max_read_batch,
        "max_write_batch": capabilities.max_write_batch,
        "documented_requests_per_s": documented,
        "pass_s_at_documented_rate": round(requests / documented, 1),
        "wall_s_against_fake": round(wall, 2),
    }


async def _catalog(pool: Pool, platform: PlatformAdapter, variants: int, changed_percent: int) -> list[int]:
    """Items 1..n in the store, all selling; every (100/changed_percent)-th is out of stock upstream."""
    store = platform.name
    await pool.execute(
        "INSERT INTO stores (id, platform, region_id, credential, drift_policy, mode, settings)"
        " VALUES ($1, $1, 'north_america', $1, 'protect', 'status', $2)",
        store,
        platform.settings(),
    )
    await pool.execute("INSERT INTO store_schedule (store_id) VALUES ($1)", store)
    step = max(1, round(100 / changed_percent))
    numbers = range(1, variants + 1)
    changed = [n for n in numbers if n % step == 0]
    await pool.executemany(
        "INSERT INTO variants (id, sku, kind) VALUES ($1, $1, 'pod')", [(f"{store}-{n}",) for n in numbers]
    )
    await pool.executemany(
        "INSERT INTO facility_stock (variant_id, facility_id, status) VALUES ($1, 'us1', $2)",
        [(f"{store}-{n}", "out_of_stock" if n % step == 0 else "in_stock") for n in numbers],
    )
    for n in numbers:
        platform.seed(n, 5)
    await pool.executemany(
        "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ($1, $2, $3)",
        [(store, platform.external_id(n), f"{store}-{n}") for n in numbers],
    )
    return changed
