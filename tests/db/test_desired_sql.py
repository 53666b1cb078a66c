"""The set-based desired queries and daemon/rules.py agree.

Hypothesis generates facility stock, regions, store rules and what we last applied; the per-store pass
query (state.sql pass_rows) must give the Python rules' desired for every synced variant (including
unknown), and queueing changed pairs over all stores (enqueue_changed.sql) must queue exactly the variants
whose known desired value differs from applied as daemon/rules.same_value sees it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.config import DatabaseConfig
from daemon.db.events import enqueue_changed
from daemon.db.pool import create_pool
from daemon.db.state import pass_pages
from daemon.model import Availability, FacilityStock, StockStatus, StoreMode, StoreRules, VariantKind
from daemon.rules import desired_for, same_value
from tests.conftest import with_database

FACILITIES = ["us1", "ca1", "mx1", "lv1", "es1"]


@pytest.fixture(scope="module")
def twin_dsn(server_dsn: str, template_db: str) -> Iterator[str]:
    name = f"stocksync_twin_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(sql)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    yield with_database(server_dsn, name)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


variant_stock = st.dictionaries(
    st.sampled_from(FACILITIES),
    st.tuples(st.sampled_from(list(StockStatus)), st.integers(0, 40) | st.integers(0, 40) | st.none()),
    min_size=1,
    max_size=5,
)
# a store showing unlimited (no count) is applied when support accepted it, or in status mode
applied = (
    st.none()
    | st.builds(Availability, st.booleans(), st.none() | st.integers(0, 40))
    | st.just(Availability(True, None, unlimited=True))
)
scenario = st.fixed_dictionaries(
    {
        "region": st.sets(st.sampled_from(FACILITIES), min_size=2),
        "rules": st.builds(
            StoreRules,
            mode=st.sampled_from(list(StoreMode)),
            safety_buffer=st.integers(0, 30),
            max_quantity=st.none() | st.integers(1, 300),
            pod_quantity=st.integers(1, 200),
        ),
        "variants": st.lists(
            st.tuples(st.sampled_from(list(VariantKind)), variant_stock, applied), min_size=1, max_size=8
        ),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=scenario)
def test_sql_desired_equals_python_rules(twin_dsn: str, case: dict) -> None:  # type: ignore[type-arg]
    asyncio.run(_check(twin_dsn, case))


async def _check(dsn: str, case: dict) -> None:  # type: ignore[type-arg]
    pool = await create_pool(dsn, DatabaseConfig(dsn=dsn, pool_min=1, pool_max=2))
    try:
        rules: StoreRules = case["rules"]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "TRUNCATE facility_stock, synced_variants, store_schedule, store_state, stores, region_facilities,"
                " regions, variants, facilities CASCADE"
            )
            await conn.executemany("INSERT INTO facilities VALUES ($1, 'US', '')", [(f,) for f in FACILITIES])
            await conn.execute("INSERT INTO regions VALUES ('r')")
            await conn.executemany(
                "INSERT INTO region_facilities VALUES ('r', $1)", [(f,) for f in case["region"]]
            )
            await conn.execute(
                "INSERT INTO stores (id, platform, region_id, credential, mode, safety_buffer, max_quantity,"
                " pod_quantity) VALUES ('s', 'sandbox', 'r', 'c', $1, $2, $3, $4)",
                str(rules.mode),
                rules.safety_buffer,
                rules.max_quantity,
                rules.pod_quantity,
            )
            expected = {}
            to_write = set()
            for index, (kind, stock, last_applied) in enumerate(case["variants"]):
                vid = f"v{index}"
                await conn.execute("INSERT INTO variants VALUES ($1, $1, $2)", vid, str(kind))
                await conn.execute(
                    "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ('s', $1, $1)",
                    vid,
                )
                rows = []
                for facility, (status, quantity) in stock.items():
                    await conn.execute(
                        "INSERT INTO facility_stock (variant_id, facility_id, status, quantity) VALUES ($1, $2, $3, $4)",
                        vid,
                        facility,
                        str(status),
                        quantity,
                    )
                    rows.append(FacilityStock(facility, status, quantity))
                expected[vid] = desired_for(kind, rows, frozenset(case["region"]), rules)
                if last_applied is not None:
                    await conn.execute(
                        "INSERT INTO store_state (store_id, external_id, applied_available, applied_quantity,"
                        " applied_unlimited) VALUES ('s', $1, $2, $3, $4)",
                        vid,
                        last_applied.available,
                        last_applied.quantity,
                        last_applied.unlimited,
                    )
                desired = expected[vid]
                if desired is not None and (
                    last_applied is None or not same_value(desired, last_applied, rules.mode)
                ):
                    to_write.add(vid)
        got, got_applied = {}, {}
        async for page in pass_pages(pool, "s", 3):
            for row in page:
                got[row.state.external_id] = row.state.desired
                got_applied[row.state.external_id] = row.state.applied
        assert got == expected
        assert got_applied == {f"v{i}": v[2] for i, v in enumerate(case["variants"])}
        async with pool.acquire() as conn:
            # both shapes of enqueue_changed: the whole catalog, and named variants (an event batch)
            for variant_ids in (None, sorted(expected)):
                await conn.execute("DELETE FROM work_queue")
                await enqueue_changed(conn, variant_ids, "cli")
                queued = {r["external_id"] for r in await conn.fetch("SELECT external_id FROM work_queue")}
                assert queued == to_write, variant_ids
    finally:
        await pool.close()
