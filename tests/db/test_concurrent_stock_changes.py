"""Issue "Never oversell", paths 2 and 3: concurrent stock changes, and a change racing a pass's claim.

Real concurrent transactions on a real PostgreSQL. The race window is widened deterministically: the
first transaction is held open (uncommitted) while the second one runs, instead of hoping for a collision.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from daemon.db import events
from daemon.db import work_queue as wq
from daemon.db.leases import StoreLocks
from daemon.db.pool import Pool
from daemon.model import StockEvent, StockStatus
from tests.db.seed import seed

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
IN, OUT = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK


def event(eid: str, facility: str, status: StockStatus, at: datetime) -> StockEvent:
    return StockEvent(eid, "tee", facility, status, None, at)


async def _sold_in_na(pool: Pool) -> None:
    """tee in stock in both north_america facilities, and store na showing it available (applied)."""
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(conn, "up", [event("s1", "us1", IN, T0), event("s2", "ca1", IN, T0)])
        await conn.execute("DELETE FROM work_queue")
        await conn.execute(
            "INSERT INTO store_state (store_id, external_id, applied_available, observed_available)"
            " VALUES ('na', 'NA-TEE', true, true)"
        )


async def _queued(pool: Pool) -> list[str]:
    rows = await pool.fetch("SELECT external_id FROM work_queue WHERE status = 'queued' AND store_id = 'na'")
    return [r["external_id"] for r in rows]


async def test_the_last_two_facilities_going_out_at_once_queue_the_write(pool: Pool) -> None:
    await _sold_in_na(pool)
    async with pool.acquire() as first, pool.acquire() as second:
        outer = first.transaction()
        await outer.start()
        # us1 goes out; this transaction is still open (its row invisible to others) ...
        await events.ingest(first, "up", [event("e1", "us1", OUT, T0 + timedelta(seconds=1))])
        # ... while ca1 goes out in another one
        other = asyncio.create_task(
            events.ingest(second, "up", [event("e2", "ca1", OUT, T0 + timedelta(seconds=1))])
        )
        await asyncio.sleep(0.3)  # the window: the second batch has planned (or waits for the first)
        await outer.commit()
        await asyncio.wait_for(other, 10)
    # both acknowledged: tee is out in every north_america facility, so the write must be queued
    assert await _queued(pool) == ["NA-TEE"]


async def test_a_change_committing_after_a_claim_is_read_by_that_pass_or_queued(pool: Pool) -> None:
    await _sold_in_na(pool)
    async with pool.acquire() as conn:  # tee went out everywhere: a write to "unavailable" is queued
        await events.ingest(
            conn, "up", [event("o1", "us1", OUT, T0 + timedelta(seconds=1)), event("o2", "ca1", OUT, T0)]
        )
        await events.ingest(conn, "up", [event("o3", "ca1", OUT, T0 + timedelta(seconds=1))])
    assert await _queued(pool) == ["NA-TEE"]
    locks = StoreLocks(pool)
    try:
        async with pool.acquire() as event_conn, pool.acquire() as worker_conn:
            outer = event_conn.transaction()
            await outer.start()
            # tee is back in us1: desired is "available" again, which equals applied, and a queued twin
            # exists, so this transaction queues nothing; it has not committed yet ...
            await events.ingest(event_conn, "up", [event("b1", "us1", IN, T0 + timedelta(seconds=2))])
            # ... when a worker claims the store's work and its pass reads desired
            assert await locks.try_lock(await wq.ready_stores(pool, [])) == "na"

            async def claim_and_read_desired() -> bool:
                await wq.claim_store_work(worker_conn, "na", "w", 60)
                desired = await worker_conn.fetchval(
                    "SELECT bool_or(status = 'in_stock') FROM facility_stock WHERE variant_id = 'tee'"
                    " AND facility_id IN ('us1', 'ca1')"
                )
                return bool(desired)

            claim = asyncio.create_task(claim_and_read_desired())
            await asyncio.sleep(0.3)
            await outer.commit()
            desired_seen_by_pass = await asyncio.wait_for(claim, 10)
        # the pass either saw the change, or the change saw the pass and queued its own item
        assert desired_seen_by_pass or await _queued(pool) == ["NA-TEE"]
    finally:
        await locks.close()


async def test_a_change_after_the_claim_sees_the_store_in_a_pass_and_queues(pool: Pool) -> None:
    await _sold_in_na(pool)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    async with pool.acquire() as conn:
        assert [i.external_id for i in await wq.claim_store_work(conn, "na", "w", 60)] == ["NA-TEE"]
        # the pass may be writing an older value: a change that leaves desired equal to applied is queued
        await events.ingest(conn, "up", [event("x1", "us1", IN, T0 + timedelta(seconds=3))])
    assert await _queued(pool) == ["NA-TEE"]
