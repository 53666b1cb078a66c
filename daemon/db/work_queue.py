"""The work queue: enqueue (deduplicated per pair), claim a locked store's items, complete/retry items.

The only module that runs work-queue SQL. Which process works a store is decided by the store's
session lock (daemon/db/leases.py); the lease columns only mark the store as in a pass for
enqueue_changed (queue changed pairs).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from daemon.db.pool import DATABASE_UNAVAILABLE, Connection, Pool
from daemon.db.queries import query

Executor = Connection | Pool


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    kind: str  # full_pass | variant
    external_id: str | None
    trigger: str
    enqueued_at: datetime
    attempts: int


async def enqueue_full_pass(db: Executor, store_id: str, trigger: str) -> bool:
    """Queue a full pass; False when one was already queued (deduplicated)."""
    return await db.fetchval(query("enqueue_full_pass"), store_id, trigger) is not None


async def announce_work(db: Executor) -> None:
    """Wake every replica's listening workers: for work queued in a transaction that did not notify."""
    await db.execute(query("announce_work"))


async def enqueue_variants(db: Executor, store_id: str, external_ids: Sequence[str], trigger: str) -> None:
    await db.execute(query("enqueue_variants"), store_id, list(external_ids), trigger)


async def enqueue_variants_at(
    db: Executor, store_id: str, items: Sequence[tuple[str, datetime]], trigger: str
) -> None:
    """Queue variants that must not run before their time (a queued twin keeps the earlier time)."""
    if items:
        await db.execute(
            query("enqueue_variants_at"), store_id, [e for e, _ in items], [t for _, t in items], trigger
        )


async def enqueue_due_passes(db: Executor, jitter_share: float) -> list[str]:
    return [r["store_id"] for r in await db.fetch(query("enqueue_due_passes"), jitter_share)]


async def ready_stores(db: Executor, exclude: Sequence[str], limit: int = 16) -> list[str]:
    """Stores with ready work and a closed circuit, oldest work first (their locks are tried next)."""
    return [r["store_id"] for r in await db.fetch(query("ready_stores"), list(exclude), limit)]


async def claim_store_work(conn: Connection, store_id: str, owner: str, mark_s: float) -> list[WorkItem]:
    """With the store's lock held: wait until stock changes already planned for the store committed,
    mark it as in a pass (enqueue_changed then queues every later change for it), close runs a dead holder
    left open, and take its ready items. One transaction, so a change lands either before the claim
    (the pass reads it) or after it (it sees the mark and queues its own item)."""
    async with conn.transaction():
        await conn.execute(query("lock_for_claim"), store_id)
        rows = await conn.fetch(query("claim_store_work"), store_id, owner, mark_s)
    return [
        WorkItem(r["id"], r["kind"], r["external_id"], r["trigger"], r["enqueued_at"], r["attempts"])
        for r in rows
    ]


async def claim_express_items(db: Executor, store_id: str, owner: str) -> list[WorkItem]:
    """With the store's lock held by a running full pass: its ready variant items, taken now."""
    rows = await db.fetch(query("claim_express_items"), store_id, owner)
    return [
        WorkItem(r["id"], r["kind"], r["external_id"], r["trigger"], r["enqueued_at"], r["attempts"])
        for r in rows
    ]


async def keep_pass_mark(pool: Pool, store_id: str, owner: str, mark_s: float) -> None:
    """Keeps the store's "in a pass" mark alive while its holder works it (run as a task, cancelled
    when the work ends); the lock decides who works a store, the mark only tells the planner."""
    while True:
        await asyncio.sleep(mark_s / 3)
        with contextlib.suppress(*DATABASE_UNAVAILABLE):
            await pool.execute(query("renew_pass_mark"), store_id, owner, mark_s)


async def clear_pass_mark(db: Executor, store_id: str, owner: str) -> None:
    await db.execute(query("clear_pass_mark"), store_id, owner)


async def complete(db: Executor, store_id: str, ids: Sequence[int]) -> None:
    """Items done, and the store's failure streak (circuit) reset with them: the store answered."""
    await db.execute(query("complete_items"), store_id, list(ids))


async def retry(
    conn: Connection, store_id: str, ids: Sequence[int], error: str, max_attempts: int, base_delay_s: float
) -> None:
    """Back to the queue with back-off (or failed for good); a newer queued twin supersedes an item."""
    if not ids:
        return
    async with conn.transaction():
        await conn.execute(query("retry_items"), store_id, list(ids), error[:500], max_attempts, base_delay_s)
        await conn.execute(query("drop_superseded"), store_id, list(ids))


async def release(conn: Connection, store_id: str, ids: Sequence[int]) -> None:
    """Shutdown: hand claimed items back without counting an attempt."""
    if not ids:
        return
    async with conn.transaction():
        await conn.execute(query("release_items"), store_id, list(ids))
        await conn.execute(query("drop_superseded"), store_id, list(ids))


async def record_store_failure(
    db: Executor, store_id: str, open_after: int, base_open_s: float
) -> datetime | None:
    """Count a failed batch; returns until when the store's circuit is open (None = closed)."""
    row = await db.fetchrow(query("record_store_failure"), store_id, open_after, base_open_s)
    return None if row is None else row["circuit_open_until"]


async def depth(db: Executor) -> tuple[int, float]:
    row = await db.fetchrow(query("queue_depth"))
    assert row is not None
    return int(row["depth"]), float(row["oldest_age_s"] or 0.0)


async def prune_finished(db: Executor, done_retention_s: float, failed_retention_s: float) -> int:
    """Delete finished items past their retention, in bounded batches; returns how many went."""
    removed = 0
    while True:
        status = await db.execute(query("prune_finished"), done_retention_s, failed_retention_s, _PRUNE_BATCH)
        batch = int(status.split()[-1])
        removed += batch
        if batch < _PRUNE_BATCH:
            return removed


_PRUNE_BATCH = 10_000  # one short statement at a time: never a long lock on a busy queue
