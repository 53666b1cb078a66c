"""Work queue: dedupe, store locks, retries with back-off, dead replicas taken over at once, NOTIFY."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg

from daemon.config import DatabaseConfig
from daemon.db import events
from daemon.db import work_queue as wq
from daemon.db.leases import StoreLocks
from daemon.db.pool import Pool, create_pool
from daemon.db.queries import query
from daemon.model import StockEvent, StockStatus
from tests.db.seed import seed


async def test_enqueue_deduplicates_per_pair(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    assert await wq.enqueue_full_pass(pool, "na", "manual") is True
    assert await wq.enqueue_full_pass(pool, "na", "manual") is False
    await wq.enqueue_variants(pool, "na", ["NA-TEE", "NA-TEE", "NA-SOCKS"], "event")
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE status = 'queued'") == 3


async def _claim(pool: Pool, locks: StoreLocks, owner: str) -> tuple[str | None, list[wq.WorkItem]]:
    """What a worker does: lock a ready store, then claim its items."""
    store_id = await locks.try_lock(await wq.ready_stores(pool, locks.held))
    if store_id is None:
        return None, []
    async with pool.acquire() as conn:
        return store_id, await wq.claim_store_work(conn, store_id, owner, 30)


async def test_a_store_is_worked_by_one_process_at_a_time(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_full_pass(pool, "na", "manual")
    replicas = [StoreLocks(pool) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(_claim(pool, locks, f"replica-{i}") for i, locks in enumerate(replicas))
        )
        assert sorted(store for store, _ in results if store) == ["na"]
        winner = next(i for i, (store, _) in enumerate(results) if store)
        await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
        assert await _claim(pool, replicas[winner], "again") == (None, [])  # not even its other workers
        assert await _claim(pool, replicas[(winner + 1) % 4], "other") == (None, [])
        # claiming counts no attempt: only a failed attempt does
        assert [i.attempts for i in results[winner][1]] == [0]
        await replicas[winner].unlock("na")
        store, items = await _claim(pool, replicas[(winner + 1) % 4], "other")
        assert store == "na" and sorted(i.kind for i in items) == ["full_pass", "variant"]
    finally:
        for locks in replicas:
            await locks.close()


async def test_retry_backs_off_and_fails_after_max_attempts(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await wq.enqueue_variants(conn, "na", ["NA-TEE"], "event")
        items = await wq.claim_store_work(conn, "na", "r1", 30)
        await wq.retry(conn, "na", [i.id for i in items], "HTTP 503", max_attempts=2, base_delay_s=60)
        row = await conn.fetchrow(
            "SELECT status, attempts, not_before > now() + interval '50 seconds' AS later FROM work_queue"
        )
        assert row is not None
        assert (row["status"], row["attempts"], row["later"]) == ("queued", 1, True)
        assert await wq.claim_store_work(conn, "na", "r1", 30) == []  # not before its back-off
        await conn.execute("UPDATE work_queue SET not_before = now()")
        items = await wq.claim_store_work(conn, "na", "r1", 30)
        await wq.retry(conn, "na", [i.id for i in items], "HTTP 503", max_attempts=2, base_delay_s=60)
        row = await conn.fetchrow("SELECT status, last_error FROM work_queue")
        assert row is not None
        assert (row["status"], row["last_error"]) == ("failed", "HTTP 503")


async def test_take_overs_count_no_attempt(pool: Pool) -> None:
    """Issue 13 path 6: every claim counted an attempt, so an item whose worker was killed a few times
    was failed for good after one ordinary platform error."""
    async with pool.acquire() as conn:
        await seed(conn)
        await wq.enqueue_variants(conn, "na", ["NA-TEE"], "event")
        for replica in range(5):  # five holders die with the item running
            assert len(await wq.claim_store_work(conn, "na", f"killed-{replica}", 30)) == 1
        items = await wq.claim_store_work(conn, "na", "alive", 30)
        await wq.retry(conn, "na", [i.id for i in items], "HTTP 503", max_attempts=3, base_delay_s=0)
        assert await conn.fetchval("SELECT status FROM work_queue") == "queued"


async def test_a_dead_replicas_store_is_taken_over_at_once(pool: Pool, db_dsn: str) -> None:
    """Issue 13 path 5: a kill -9'd replica stalled its stores for the whole lease (60 s)."""
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    dead = await create_pool(db_dsn, DatabaseConfig(dsn=db_dsn, pool_min=1, pool_max=2))
    dead_locks, alive = StoreLocks(dead), StoreLocks(pool)
    try:
        assert (await _claim(dead, dead_locks, "dead"))[0] == "na"
        run = await pool.fetchval(
            "INSERT INTO sync_runs (store_id, trigger) VALUES ('na', 'event') RETURNING id"
        )
        assert await _claim(pool, alive, "alive") == (None, [])  # held by a live session
        dead.terminate()  # what kill -9 does to its connections
        store, items = await _eventually_claimed(pool, alive)
        assert store == "na" and [i.external_id for i in items] == ["NA-TEE"]
        outcome = await pool.fetchval("SELECT outcome FROM sync_runs WHERE id = $1", run)
        assert outcome == "failed"  # its run no longer makes the store look mid-pass for an hour
    finally:
        await alive.close()


async def _eventually_claimed(pool: Pool, locks: StoreLocks) -> tuple[str | None, list[wq.WorkItem]]:
    for _ in range(100):  # the server notices the closed socket within milliseconds
        claimed = await _claim(pool, locks, "alive")
        if claimed[0] is not None:
            return claimed
        await asyncio.sleep(0.05)
    return None, []


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
    assert await wq.ready_stores(pool, []) == ["eu"]
    await wq.complete(pool, "na", [])  # a pass that answered, with nothing left to mark
    assert sorted(await wq.ready_stores(pool, [])) == ["eu", "na"]


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
            ("ready_stores", "('{}'::text[], 16)"),
            ("claim_store_work", "('na', 'replica-x', 30)"),
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


async def test_a_store_whose_lock_session_died_can_be_locked_again_without_an_unlock(pool: Pool) -> None:
    """A worker that never reached its unlock (an error while it cleaned up) after the database dropped
    the lock's session must not keep the store unclaimable by its own replica for good."""
    async with pool.acquire() as conn:
        await seed(conn)
    locks = StoreLocks(pool)
    try:
        assert await locks.try_lock(["na"]) == "na"
        await pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND classid = 7301 AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert await _eventually_locked(locks, "na")
        assert locks.holds("na")
    finally:
        await locks.close()


async def _eventually_locked(locks: StoreLocks, store_id: str) -> bool:
    for _ in range(100):  # the client notices the terminated session within milliseconds
        if await locks.try_lock([store_id]) == store_id:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_an_event_batch_wakes_listeners_once_after_it_commits(pool: Pool, db_dsn: str) -> None:
    """A NOTIFY inside the batch's transaction made event batches commit one at a time (migration 0016):
    a batch queuing work for two stores now announces it once, from outside its transaction."""
    async with pool.acquire() as conn:
        await seed(conn)
    listener = await asyncpg.connect(db_dsn)
    got: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("stocksync_work", lambda *args: got.put_nowait(args[3]))
    at = datetime.now(UTC)
    batch = [
        StockEvent("e1", "tee", "us1", StockStatus.OUT_OF_STOCK, None, at),  # the na store's tee
        StockEvent("e2", "tee", "lv1", StockStatus.OUT_OF_STOCK, None, at),  # the eu store's tee
    ]
    try:
        async with pool.acquire() as conn:
            result = await events.ingest(conn, "upstream", batch)
        assert result.queued == 2
        await asyncio.wait_for(got.get(), timeout=5)
        await listener.execute("SELECT 1")  # a round trip: any second notification has arrived by now
        assert got.empty()
    finally:
        await listener.close()


async def test_completing_items_resets_a_failure_streak_and_leaves_a_healthy_store_unwritten(
    pool: Pool,
) -> None:
    """One commit per finished batch: items done and the streak reset together, and a store without a
    streak is not rewritten (each pass rewrote its schedule row: one more WAL flush per event batch)."""
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    await wq.record_store_failure(pool, "na", open_after=1, base_open_s=60)
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM work_queue WHERE store_id = 'na'")]
    await wq.complete(pool, "na", ids)
    streak = await pool.fetchrow(
        "SELECT consecutive_failures, circuit_open_until FROM store_schedule WHERE store_id = 'na'"
    )
    assert streak is not None and tuple(streak) == (0, None)
    assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE status = 'done'") == len(ids)
    version = await pool.fetchval("SELECT xmin::text FROM store_schedule WHERE store_id = 'na'")
    await wq.enqueue_variants(pool, "na", ["NA-SOCKS"], "event")
    more = [r["id"] for r in await pool.fetch("SELECT id FROM work_queue WHERE status = 'queued'")]
    await wq.complete(pool, "na", more)
    assert await pool.fetchval("SELECT xmin::text FROM store_schedule WHERE store_id = 'na'") == version
