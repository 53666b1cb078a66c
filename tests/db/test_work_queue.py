"""Work queue: dedupe, store leases with SKIP LOCKED, retries with back-off, dead replicas, NOTIFY."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from daemon.db import work_queue as wq
from daemon.db.pool import Pool
from daemon.db.queries import query
from tests.db.seed import seed


async def test_enqueue_deduplicates_per_pair(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    assert await wq.enqueue_full_pass(pool, "na", "manual") is True
    assert await wq.enqueue_full_pass(pool, "na", "manual") is False
    await wq.enqueue_variants(pool, "na", ["NA-TEE", "NA-TEE", "NA-SOCKS"], "event")
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE status = 'queued'") == 3


async def test_a_store_is_leased_by_one_owner_at_a_time(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_full_pass(pool, "na", "manual")
    results = await asyncio.gather(*(wq.claim_store(pool, f"replica-{i}", 30) for i in range(5)))
    assert sorted(r for r in results if r) == ["na"]
    owner = f"replica-{results.index('na')}"
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    assert await wq.claim_store(pool, owner, 30) is None  # not even the owner's other workers
    items = await wq.claim_items(pool, "na", owner)
    assert sorted((i.kind, i.attempts) for i in items) == [("full_pass", 1), ("variant", 1)]
    await wq.complete(pool, "na", [i.id for i in items])
    await wq.release_lease(pool, "na", owner)
    assert await wq.claim_store(pool, "other", 30) is None  # nothing queued any more


async def test_retry_backs_off_and_fails_after_max_attempts(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await wq.enqueue_variants(conn, "na", ["NA-TEE"], "event")
        assert await wq.claim_store(conn, "r1", 30) == "na"
        items = await wq.claim_items(conn, "na", "r1")
        await wq.retry(conn, "na", [i.id for i in items], "HTTP 503", max_attempts=2, base_delay_s=60)
        row = await conn.fetchrow(
            "SELECT status, not_before > now() + interval '50 seconds' AS later FROM work_queue"
        )
        assert row is not None
        assert (row["status"], row["later"]) == ("queued", True)
        assert await wq.claim_items(conn, "na", "r1") == []  # not before its back-off
        await conn.execute("UPDATE work_queue SET not_before = now()")
        items = await wq.claim_items(conn, "na", "r1")
        await wq.retry(conn, "na", [i.id for i in items], "HTTP 503", max_attempts=2, base_delay_s=60)
        row = await conn.fetchrow("SELECT status, last_error FROM work_queue")
        assert row is not None
        assert (row["status"], row["last_error"]) == ("failed", "HTTP 503")


async def test_dead_replicas_lease_expires_and_its_items_are_taken_over(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await wq.enqueue_variants(conn, "na", ["NA-TEE"], "event")
        assert await wq.claim_store(conn, "dead", 30) == "na"
        await wq.claim_items(conn, "na", "dead")
        assert await wq.claim_store(conn, "alive", 30) is None  # still leased by "dead"
        await conn.execute("UPDATE store_schedule SET lease_expires_at = now() - interval '1 second'")
        assert await wq.claim_store(conn, "alive", 30) == "na"  # only the orphaned running item is left
        items = await wq.claim_items(conn, "na", "alive")
    assert [i.external_id for i in items] == ["NA-TEE"]


async def test_due_passes_are_enqueued_once_and_rescheduled(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    first, second = await asyncio.gather(wq.enqueue_due_passes(pool, 0.1), wq.enqueue_due_passes(pool, 0.1))
    assert sorted(first + second) == ["eu", "na"]
    assert await wq.enqueue_due_passes(pool, 0.1) == []
    later = await pool.fetchval("SELECT min(next_pass_at - now()) FROM store_schedule")
    assert later.total_seconds() > 3 * 3600  # 4 h ± 10 %


async def test_open_circuit_keeps_a_store_from_being_claimed(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_full_pass(pool, "na", "manual")
    await wq.enqueue_full_pass(pool, "eu", "manual")
    assert await wq.record_store_failure(pool, "na", open_after=2, base_open_s=60) is None
    assert await wq.record_store_failure(pool, "na", open_after=2, base_open_s=60) is not None
    assert await wq.claim_store(pool, "r", 30) == "eu"
    assert await wq.claim_store(pool, "r2", 30) is None
    await wq.record_store_success(pool, "na")
    assert await wq.claim_store(pool, "r2", 30) == "na"


async def test_enqueue_notifies_listeners(pool: Pool, db_dsn: str) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    listener = await asyncpg.connect(db_dsn)
    got: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("stocksync_work", lambda *args: got.put_nowait(args[3]))
    try:
        await wq.enqueue_full_pass(pool, "eu", "manual")
        assert await asyncio.wait_for(got.get(), timeout=5) == "eu"
    finally:
        await listener.close()


FINISHED = """
INSERT INTO work_queue (store_id, kind, external_id, trigger, status, finished_at)
SELECT 'na', 'variant', 'NA-TEE', 'event', s.status, now() - s.age
FROM (VALUES ('done', interval '2 hours'), ('done', interval '1 minute'),
             ('failed', interval '2 hours'), ('failed', interval '8 days')) AS s (status, age)
"""


async def test_finished_items_are_pruned_after_their_retention(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(FINISHED)
    assert await wq.prune_finished(pool, 3600, 7 * 86400) == 2  # the old done and the very old failed
    left = await pool.fetch("SELECT status, finished_at > now() - interval '1 day' AS recent FROM work_queue")
    assert sorted((r["status"], r["recent"]) for r in left) == [("done", True), ("failed", True)]


async def test_claiming_reads_only_unfinished_items(pool: Pool) -> None:
    """Buffer hits, not time: 20,000 finished items must not make a claim read them."""
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(
            "INSERT INTO work_queue (store_id, kind, external_id, trigger, status, finished_at)"
            " SELECT 'na', 'variant', 'NA-TEE', 'event', 'done', now() FROM generate_series(1, 20000)"
        )
        await conn.execute("ANALYZE work_queue")
    await wq.enqueue_variants(pool, "na", ["NA-SOCKS"], "event")
    async with pool.acquire() as conn:
        for statement, args in (
            ("claim_store", "('replica-x', 30)"),
            ("claim_items", "('na', 'replica-x')"),
        ):
            await conn.execute(f"PREPARE probe AS {query(statement)}")
            try:
                async with conn.transaction():
                    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE probe{args}")
                    await conn.execute("SELECT 1")  # keep the transaction: the claim is rolled back
                    raise _RolledBack
            except _RolledBack:
                pass
            finally:
                await conn.execute("DEALLOCATE probe")
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            # about 10 blocks through the active-items index; 275 when every finished item is read
            assert plan["Shared Hit Blocks"] + plan.get("Shared Read Blocks", 0) < 50, (statement, plan)


class _RolledBack(Exception):
    pass
