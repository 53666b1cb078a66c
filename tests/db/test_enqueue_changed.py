"""Queueing changed pairs (enqueue_changed.sql): what it queues when nothing changed, and while a pass is in flight.

Which pairs differ is checked against the Python rules by hypothesis in test_desired_sql.py.
"""

from __future__ import annotations

from daemon.db.events import enqueue_changed
from daemon.db.pool import Pool
from tests.db.seed import seed

STOCK = """
INSERT INTO facility_stock (variant_id, facility_id, status, quantity) VALUES
    ('tee', 'us1', 'in_stock', NULL), ('socks', 'us1', 'in_stock', 5), ('mug', 'lv1', 'out_of_stock', NULL);
INSERT INTO store_state (store_id, external_id, applied_available) VALUES
    ('na', 'NA-TEE', true), ('na', 'NA-SOCKS', true), ('eu', 'EU-MUG', false);
"""


async def _queued(pool: Pool) -> list[str]:
    return [r["external_id"] for r in await pool.fetch("SELECT external_id FROM work_queue ORDER BY 1")]


async def test_nothing_is_queued_when_stores_show_what_we_applied(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(STOCK)
        assert await enqueue_changed(conn, None, "catalog") == 0
        assert await enqueue_changed(conn, ["tee", "socks", "mug"], "event") == 0
    assert await _queued(pool) == []


async def test_a_store_with_a_pass_in_flight_gets_its_changed_variants_queued(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(STOCK)
        # that pass read desired before this change and may be writing the value we now want to undo
        await conn.execute(
            "UPDATE store_schedule SET lease_owner = 'w', lease_expires_at = now() + interval '1 minute'"
            " WHERE store_id = 'na'"
        )
        assert await enqueue_changed(conn, ["tee"], "event") == 1
    assert await _queued(pool) == ["NA-TEE"]


async def test_a_run_left_running_by_a_dead_process_does_not_mark_the_store_busy(pool: Pool) -> None:
    """Issue 13 path 6: a dead replica's 'running' run made every event queue work for an hour."""
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(STOCK)
        await conn.execute("INSERT INTO sync_runs (store_id, trigger) VALUES ('na', 'event')")
        await conn.execute(
            "UPDATE store_schedule SET lease_owner = 'dead', lease_expires_at = now() - interval '1 second'"
        )
        assert await enqueue_changed(conn, ["tee"], "event") == 0


async def test_a_changed_stock_row_queues_only_the_stores_whose_region_carries_it(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(STOCK)
        await conn.execute("UPDATE facility_stock SET status = 'out_of_stock' WHERE variant_id = 'tee'")
        assert await enqueue_changed(conn, ["tee"], "event") == 1  # EU-TEE: lv1 has no tee row, unknown
    assert await _queued(pool) == ["NA-TEE"]
