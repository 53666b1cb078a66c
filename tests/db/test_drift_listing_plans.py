"""Every drift listing query is an index range scan on a large table, even under a generic plan.

asyncpg prepares statements, and PostgreSQL may switch a prepared statement to a generic plan after a
few executions; the generic plan is forced here so the check does not depend on that choice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from daemon.db.pool import Pool
from daemon.db.queries import query
from tests.db.seed import seed

ROWS = 50_000
STORES = 50

# Over a year of drift in 50 stores, one record in 20 still open (resolved ones accumulate).
BIG_SQL = f"""
INSERT INTO variants SELECT 'bv' || i, 'BV-' || i, 'pod' FROM generate_series(1, {ROWS // STORES}) i;
INSERT INTO stores (id, platform, region_id, credential)
    SELECT 's' || s, 'sandbox', 'north_america', 'token' FROM generate_series(1, {STORES}) s;
INSERT INTO synced_variants (store_id, external_id, variant_id)
    SELECT 's' || s, 'E' || i, 'bv' || i
    FROM generate_series(1, {STORES}) s, generate_series(1, {ROWS // STORES}) i;
INSERT INTO drift_records (store_id, external_id, variant_id, detected_via, action, status, detected_at)
    SELECT 's' || (n % {STORES} + 1), 'E' || (n / {STORES} + 1), 'bv' || (n / {STORES} + 1), 'pass', 'held',
           CASE WHEN n % 20 = 0 THEN 'open' ELSE 'corrected' END,
           now() - n * interval '10 minutes'
    FROM generate_series(0, {ROWS - 1}) n;
ANALYZE drift_records;
"""

CURSOR = [datetime(2026, 6, 1, tzinfo=UTC), 25_000]
SHAPES: list[tuple[str, list[Any]]] = [
    ("drift_older_page", ["open", None, None, None, 100]),
    ("drift_older_page", ["open", 720.0, *CURSOR, 100]),
    ("drift_older_page_in_store", ["all", None, *CURSOR, 100, "s7"]),
    ("drift_newer_page", ["resolved", None, *CURSOR, 100]),
    ("drift_newer_page_in_store", ["open", 24.0, *CURSOR, 100, "s7"]),
    ("count_drift_newer", ["open", None, None, None]),
    ("count_drift_newer_in_store", ["open", 24.0, *CURSOR, "s7"]),
]


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


def literal(value: Any) -> str:
    """The test's own constants as SQL literals (EXECUTE takes no bind parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, str | datetime):
        return f"'{value}'"
    return str(value)


async def test_listing_queries_use_a_listing_index_even_with_a_generic_plan(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(BIG_SQL)
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        plans = {}
        for number, (name, args) in enumerate(SHAPES):
            await conn.execute(f"PREPARE shape{number} AS {query(name)}")
            explained = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE shape{number}({', '.join(literal(a) for a in args)})"
            )
            document = json.loads(explained) if isinstance(explained, str) else explained  # pool decodes json
            plans[f"{name}({args[0]}, {args[1]})"] = nodes(document[0]["Plan"])
    for shape, plan in plans.items():
        assert any("$1" in str(n.get("Filter", "")) for n in plan), shape  # really the generic plan
        scans = [
            n for n in plan if n.get("Relation Name") == "drift_records" or "Bitmap Index" in n["Node Type"]
        ]
        assert scans and not any(n["Node Type"] == "Seq Scan" for n in scans), (shape, scans)
        used = {n["Index Name"] for n in scans if "Index Name" in n}
        assert used and used <= {"drift_records_listing", "drift_records_store_listing"}, (shape, used)
        assert all("Index Cond" in n for n in scans if "Index Name" in n), shape  # a range, not a walk
        assert not any(n["Node Type"] == "Sort" for n in plan), shape  # the index gives the order
