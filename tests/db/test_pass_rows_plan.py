"""pass_rows must stay linear in the page under PostgreSQL's generic plan.

asyncpg prepares statements; after five executions PostgreSQL may switch a connection to a generic
plan that knows neither the store nor LIMIT $3. An earlier pass_rows let that plan join the grouped
page back to itself: 14 million buffer hits (5.6 s) for a 2,000-row page. Buffer hits are counted,
not timed, so this check is exact.
"""

from __future__ import annotations

import json

from daemon.db.pool import Pool
from daemon.db.queries import query

ROWS = 2_000


async def _seed_store(pool: Pool) -> None:
    await pool.execute(
        """
        INSERT INTO facilities VALUES ('us1', 'US', ''), ('ca1', 'CA', '');
        INSERT INTO regions VALUES ('na');
        INSERT INTO region_facilities VALUES ('na', 'us1'), ('na', 'ca1');
        INSERT INTO stores (id, platform, region_id, credential) VALUES ('s', 'sandbox', 'na', 'c');
        INSERT INTO variants SELECT 'v' || i, 'SKU' || i, 'warehouse' FROM generate_series(1, 2000) i;
        INSERT INTO facility_stock (variant_id, facility_id, status, quantity)
        SELECT 'v' || i, f, 'in_stock', i % 7 FROM generate_series(1, 2000) i, unnest(ARRAY['us1', 'ca1']) f;
        INSERT INTO synced_variants (store_id, external_id, variant_id)
        SELECT 's', 'x' || i, 'v' || i FROM generate_series(1, 2000) i;
        ANALYZE;
        """
    )


async def test_generic_plan_reads_each_row_a_bounded_number_of_times(pool: Pool) -> None:
    await _seed_store(pool)
    async with pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE pass_rows_generic AS {query('pass_rows')}")
        try:
            raw = await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE pass_rows_generic('s', '', 2000, NULL)"
            )
        finally:
            await conn.execute("DEALLOCATE pass_rows_generic")
            await conn.execute("RESET plan_cache_mode")
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    assert plan["Actual Rows"] == ROWS
    # an index lookup per row costs a handful of buffer hits; the quadratic plan cost ~7,000 per row
    assert plan["Shared Hit Blocks"] < 20 * ROWS, plan["Shared Hit Blocks"]
