"""The event path's statements are planned once per connection, not at every execution.

A custom plan of `enqueue_changed_variants` (views and SQL functions inlined) takes ~2 ms to plan and
0.15 ms to run. PostgreSQL keeps re-planning a prepared statement while its generic plan looks dearer
than the custom ones, and `= ANY($1)` over an array of unknown length always looks dearer: under load
the backends spent most of their CPU planning (sampled pg_stat_activity at 200 events/s). The pool
therefore asks for generic plans; this counts plans, it does not time them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.db import events
from daemon.db.pool import Pool
from daemon.model import StockEvent, StockStatus
from tests.db.seed import seed

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_ingesting_events_never_replans_a_prepared_statement(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        for n in range(8):  # PostgreSQL decides between custom and generic after five executions
            status = StockStatus.OUT_OF_STOCK if n % 2 else StockStatus.IN_STOCK
            batch = [StockEvent(f"e{n}", "tee", "us1", status, None, T0 + timedelta(seconds=n))]
            await events.ingest(conn, "upstream", batch)
        replanned = await conn.fetch(
            "SELECT left(statement, 60) AS statement, custom_plans FROM pg_prepared_statements"
            " WHERE custom_plans > 0"
        )
    assert [dict(r) for r in replanned] == []


async def test_a_batch_reads_the_inbox_by_its_own_events_however_large_the_inbox(pool: Pool) -> None:
    """Found by the latency benchmark on PostgreSQL 15: plans prepared while the inbox was empty (no
    statistics yet) looked its events up by `source` alone and marked them applied with a nested loop
    over the whole inbox, 80 ms per 10-event batch at 3,700 inbox rows, growing with every event."""
    async with pool.acquire() as conn:
        await seed(conn)
        first = [StockEvent("warm-up", "tee", "us1", StockStatus.IN_STOCK, None, T0)]
        for _ in range(6):  # the connection's plans are made now, on an empty inbox
            await events.ingest(conn, "upstream", first)
        await conn.execute(
            "INSERT INTO inbox_events (source, event_id, variant_id, facility_id, status, quantity,"
            " occurred_at) SELECT 'upstream', 'old-' || i, 'tee', 'us1', 'in_stock', NULL, $1"
            " FROM generate_series(1, 20000) AS i",
            T0,
        )
        batch = [
            StockEvent(f"new-{n}", variant, "us1", StockStatus.OUT_OF_STOCK, None, T0 + timedelta(minutes=1))
            for n, variant in enumerate(["tee", "socks", "mug"] * 4)
        ]
        async with conn.transaction():  # the counters below are this transaction's own
            await events.ingest(conn, "upstream", batch)
            read = await conn.fetchval(
                "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                " WHERE relname = 'inbox_events'"
            )
    assert read <= 4 * len(batch)
