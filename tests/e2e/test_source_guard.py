"""A pull that flips more than the guard's share of a store to unavailable is held like any change:
the snapshot is applied to facility stock, the pass it queues trips the mass-unavailable guard and
writes nothing less sellable (pass-level, real PostgreSQL, a real sandbox store, the real engine)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from daemon.db import sources as sources_db
from daemon.db.pool import Pool
from daemon.model import StockStatus
from sources.interface import Snapshot, SourceConfig, SourceStock
from tests.e2e.harness import world

FEED = SourceConfig("feed1", "http_feed", {}, None, frozenset({"us1"}))


async def test_a_pull_flipping_most_variants_out_is_held_by_the_guard(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        for i in range(10):
            await w.variant(f"v{i}", stock={"us1": "in_stock"})
            await w.map("na", f"E{i}", f"v{i}", (True, None))
        assert (await w.engine.run_pass("na")).outcome == "ok"
        out = [SourceStock(f"v{i}", "us1", StockStatus.OUT_OF_STOCK, None) for i in range(6)]
        async with pool.acquire() as conn:
            applied = await sources_db.apply_snapshot(conn, FEED, Snapshot(out, datetime.now(UTC)))
        assert (applied.changed, applied.queued) == (6, 6)
        report = await w.engine.run_pass("na", trigger="source", only=[f"E{i}" for i in range(6)])
        assert report.outcome == "held" and "guard" in str(report.held_reason)
        assert w.writes("na") == []
        assert all(w.shown("na", f"E{i}")[0] for i in range(10))
