"""Scenario 3: the cost of deciding what to write for 1,000 stores × 1,000 variants (1M synced rows).

It times queueing changed pairs (enqueue_changed.sql: which pairs need a write, queued as work items,
as after an upstream change) against the raw set-based SQL diff alone on the same data. For context it
also times per-store dry-run passes (pass_rows pages + the per-variant planner)
against a store that shows what we last applied, so no platform I/O is counted.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from daemon.db.events import enqueue_changed
from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.model import ApplyResult, Change, Observed, StoreConfig, SyncedVariant
from reconcilers.interface import Reconciler
from reconcilers.sandbox import SandboxReconciler
from tests.bench import catalog as bench_catalog
from tests.bench.environment import fresh_database
from tests.bench.fleet import bench_engine

# desired (the same rules as pass_rows, written out; the region_stock view gives their inputs) vs applied,
# for every store at once: the pure SQL floor
RAW_DIFF_SQL = """
WITH desired AS (
    SELECT sv.store_id, sv.external_id,
           CASE WHEN rs.carrying IS NULL THEN NULL
                WHEN v.kind = 'pod' THEN rs.any_in_stock
                WHEN rs.uncounted THEN NULL
                ELSE rs.on_hand - s.safety_buffer > 0 END AS available,
           CASE WHEN s.mode = 'status' OR rs.carrying IS NULL THEN NULL
                WHEN v.kind = 'pod' THEN
                    CASE WHEN rs.any_in_stock THEN least(s.pod_quantity, s.max_quantity) ELSE 0 END
                WHEN rs.uncounted THEN NULL
                ELSE least(greatest(rs.on_hand - s.safety_buffer, 0), s.max_quantity)::integer END AS quantity
    FROM synced_variants sv
    JOIN stores s ON s.id = sv.store_id
    JOIN variants v ON v.id = sv.variant_id
    LEFT JOIN region_stock rs ON rs.region_id = s.region_id AND rs.variant_id = sv.variant_id
    WHERE sv.sync_enabled
)
SELECT d.store_id, d.external_id, d.available, d.quantity
FROM desired d
LEFT JOIN store_state st ON st.store_id = d.store_id AND st.external_id = d.external_id
WHERE d.available IS NOT NULL
  AND (d.available, d.quantity) IS DISTINCT FROM (st.applied_available, st.applied_quantity)
"""


class MirrorReconciler:
    """A store that shows exactly what the benchmark catalog last applied; never written (dry run)."""

    capabilities = SandboxReconciler.capabilities

    async def observe(self, variants: Sequence[SyncedVariant]) -> list[Observed]:
        return [
            Observed(v.external_id, True, bench_catalog.base_quantity(bench_catalog.index_of(v.external_id)))
            for v in variants
        ]

    async def apply(self, changes: Sequence[Change]) -> ApplyResult:
        raise AssertionError("a dry run never writes")


class MirrorEngine(Engine):
    def reconciler_for(self, store: StoreConfig) -> Reconciler:
        return MirrorReconciler()  # type: ignore[return-value]


async def run(server_dsn: str, *, stores: int, variants: int, changed_percent: float) -> dict[str, Any]:
    every = max(1, round(100 / changed_percent))
    store_ids = [f"s{n:04d}" for n in range(stores)]
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server_dsn) as (_, pool), bench_engine(pool, Path(tmp)) as engine:
            catalog = await bench_catalog.create(pool, Path(tmp), {s: {} for s in store_ids}, variants)
            changed = await bench_catalog.change_upstream(pool, catalog, every)
            await pool.execute("VACUUM ANALYZE")
            mirror = MirrorEngine(pool, engine._factory, engine._credentials, engine._config)
            raw_s, raw_rows = await _raw_diff(pool)
            planning_s, queued = await _set_based_planning(pool)
            raw_again_s, _ = await _raw_diff(pool)  # each side run warm: take the faster raw run
            started = time.perf_counter()
            dry_run_writes = 0
            for store_id in store_ids:
                report = await mirror.run_pass(store_id, trigger="cli", dry_run=True)
                dry_run_writes += len(report.writes)
            dry_runs_s = time.perf_counter() - started
    raw_best = min(raw_s, raw_again_s)
    if not queued == raw_rows == dry_run_writes == changed * stores:
        raise AssertionError(
            f"enqueue_changed queued {queued}, raw diff {raw_rows}, dry runs {dry_run_writes}; expected {changed * stores}"
        )
    return {
        "stores": stores,
        "variants_per_store": variants,
        "rows": stores * variants,
        "writes_found": queued,
        "planning_s": round(planning_s, 3),
        "raw_sql_diff_s": round(raw_best, 3),
        "ratio": round(planning_s / raw_best, 2),
        "per_store_dry_runs_s": round(dry_runs_s, 3),
    }


async def _set_based_planning(pool: Pool) -> tuple[float, int]:
    """enqueue_changed queues every changed pair; timed warm, like the raw diff (first run discarded)."""
    async with pool.acquire() as conn:
        await enqueue_changed(conn, None, "catalog")
        await conn.execute("DELETE FROM work_queue")
        started = time.perf_counter()
        queued = await enqueue_changed(conn, None, "catalog")
        return time.perf_counter() - started, queued


async def _raw_diff(pool: Pool) -> tuple[float, int]:
    started = time.perf_counter()
    rows = await pool.fetch(RAW_DIFF_SQL)
    return time.perf_counter() - started, len(rows)
