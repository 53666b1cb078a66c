"""A worker whose pass fails mid-way (the database went away) keeps working, and its own items come back.

Regression for fault case 2 (PostgreSQL stopped during a pass): every store worker died on the first
database error, and the items it left running were never re-claimed by its own replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from daemon.config import Config, SyncConfig
from daemon.db import work_queue as wq
from daemon.db.leases import StoreLocks
from daemon.db.pool import Pool
from daemon.db.runs import RunCounts
from daemon.engine import PassReport
from daemon.workers import StoreWorkers
from tests.db.seed import seed
from tests.e2e.daemon_process import eventually


async def test_a_replicas_own_items_left_running_are_claimed_again_once_unlocked(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    locks = StoreLocks(pool)
    try:
        assert await locks.try_lock(await wq.ready_stores(pool, locks.held)) == "na"
        async with pool.acquire() as conn:
            await wq.claim_store_work(conn, "na", "r1", 30)
        assert await wq.ready_stores(pool, locks.held) == []  # held: not even by its owner's workers
        await locks.unlock("na")  # the pass failed; its items could not be handed back
        assert await locks.try_lock(await wq.ready_stores(pool, locks.held)) == "na"
        async with pool.acquire() as conn:
            items = await wq.claim_store_work(conn, "na", "r1", 30)
    finally:
        await locks.close()
    assert [(i.external_id, i.attempts) for i in items] == [("NA-TEE", 0)]


class _FailingEngine:
    """Fails its first `failing` passes with `error` (None: every pass), then succeeds; counts passes."""

    def __init__(self, error: BaseException, failing: int | None = None) -> None:
        self.error, self.failing, self.passes = error, failing, 0

    async def run_pass(
        self, store_id: str, *, trigger: str, only: Sequence[str] | None, holds_store: object = None
    ) -> PassReport:
        self.passes += 1
        if self.failing is None or self.passes <= self.failing:
            raise self.error
        return PassReport(store_id, "sandbox", trigger, False, "ok", RunCounts())


async def test_a_worker_survives_a_database_error_mid_pass_and_finishes_the_work(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    # fails as a pass does when PostgreSQL shuts down under it, once
    engine = _FailingEngine(
        asyncpg.AdminShutdownError("terminating connection due to administrator command"), 1
    )
    config = Config(sync=SyncConfig(workers=1, poll_interval_s=0.05, in_pass_mark_ttl_s=2))
    workers = StoreWorkers(pool, engine, config, "r1")  # type: ignore[arg-type]
    workers.start()
    try:
        done = await eventually(
            lambda: pool.fetchval("SELECT count(*) = 1 FROM work_queue WHERE status = 'done'"), 10
        )
    finally:
        await workers.drain(1.0)
    assert done and engine.passes == 2
    assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE status <> 'done'") == 0


async def test_an_unexpected_error_in_a_stores_work_is_bounded_not_a_hot_loop(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await wq.enqueue_variants(pool, "na", ["NA-TEE"], "event")
    engine = _FailingEngine(ValueError("value out of int32 range"))  # a value nobody foresaw, every pass
    workers = StoreWorkers(pool, engine, Config(sync=SyncConfig(workers=2)), "r1")  # type: ignore[arg-type]
    workers.start()
    try:
        failed = await eventually(
            lambda: pool.fetchval("SELECT attempts = 1 AND status = 'queued' FROM work_queue"), 10
        )
        await asyncio.sleep(1.0)  # a hot loop would run hundreds of passes in this second
    finally:
        await workers.drain(1.0)
    assert failed and engine.passes == 1  # retried after its back-off (5 s), not at once
    row = await pool.fetchrow("SELECT last_error, not_before > now() AS later FROM work_queue")
    assert row is not None and row["later"] and "ValueError: value out of int32 range" in row["last_error"]
    assert await pool.fetchval("SELECT consecutive_failures FROM store_schedule WHERE store_id = 'na'") == 1
