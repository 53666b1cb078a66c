"""Upstream stock events: persist to the inbox, apply to facility stock, queue the pairs that changed.

ingest() is one transaction: when it returns, the events are stored, applied (newest wins) and the
(store, synced variant) pairs whose desired value changed are queued, so the HTTP handler may acknowledge;
the workers are woken after the commit (a crash in between leaves the work to their polling).
Concurrent batches for one variant take turns (lock_for_stock_change), so under any interleaving the
needed write is queued once both are acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.db.work_queue import announce_work
from daemon.errors import InputError
from daemon.model import StockEvent
from daemon.upstream_events import MAX_CLOCK_SKEW


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int
    new: int  # not seen before (duplicates are accepted and ignored)
    applied: int  # (variant, facility) rows changed; older events do not overwrite newer stock
    queued: int  # work items queued for stores


async def ingest(
    conn: Connection, source: str, events: Sequence[StockEvent], *, trigger: str = "event"
) -> IngestResult:
    async with conn.transaction():
        missing = await conn.fetch(
            query("unknown_references"),
            sorted({e.variant_id for e in events}),
            sorted({e.facility_id for e in events}),
        )
        if missing:
            field, ident = missing[0]["field"], missing[0]["id"]
            index = next(i for i, e in enumerate(events) if getattr(e, field) == ident)
            raise InputError(f"events[{index}]", field, f"unknown {field.removesuffix('_id')} {ident!r}")
        # queued work is announced after the commit (below), so event batches do not commit in turn
        await conn.execute(query("begin_event_batch"), sorted({e.variant_id for e in events}), LOCK_KEYS_MAX)
        rows = await conn.fetch(
            query("ingest_stock_events"),
            source,
            [e.event_id for e in events],
            [e.variant_id for e in events],
            [e.facility_id for e in events],
            [str(e.status) for e in events],
            [e.quantity for e in events],
            [e.occurred_at for e in events],
            MAX_CLOCK_SKEW,
        )
        new = int(rows[0]["new"])
        changed = [r for r in rows if r["variant_id"] is not None]
        queued = 0
        if changed:
            queued = await enqueue_changed(conn, sorted({r["variant_id"] for r in changed}), trigger)
    if queued:
        await announce_work(conn)
    return IngestResult(len(events), new, len(changed), queued)


# past this many distinct variants (or stores) a batch takes the whole gate rather than a lock per id:
# the lock table is shared and bounded (max_locks_per_transaction)
LOCK_KEYS_MAX = 128


async def lock_for_stock_change(conn: Connection, variant_ids: Sequence[str]) -> None:
    """Serialise stock writers of the same variants, and order them against claims of their stores.

    Two batches changing one variant in two facilities each planned from their own snapshot, so neither
    saw both facilities out and neither queued the write; a pass claimed between an event's enqueue and
    its commit read the old stock. After this lock (inside the caller's transaction) every later
    statement sees all committed writers of these variants, and a store's claim waits for this commit.
    """
    await conn.execute(query("lock_for_stock_change"), list(variant_ids), LOCK_KEYS_MAX)


async def lock_for_catalog_change(conn: Connection) -> None:
    """A catalog-wide change (an import) runs alone against every stock writer and every claim."""
    await conn.execute(query("lock_for_catalog_change"))


async def enqueue_changed(conn: Connection, variant_ids: Sequence[str] | None, trigger: str) -> int:
    """Queue changed pairs: every (store, synced variant) whose desired value now differs from
    what we applied, for the given variants (None: the whole catalog). Returns the items queued."""
    if variant_ids is None:
        status = await conn.execute(query("enqueue_changed_all"), trigger)
    else:
        status = await conn.execute(query("enqueue_changed_variants"), list(variant_ids), trigger)
    return int(status.split()[-1])


async def prune_inbox(db: Connection | Pool, retention_s: float) -> int:
    """Forget accepted events older than the retention, in bounded batches; returns how many went."""
    removed = 0
    while True:
        status = await db.execute(query("prune_inbox"), retention_s, _PRUNE_BATCH)
        batch = int(status.split()[-1])
        removed += batch
        if batch < _PRUNE_BATCH:
            return removed


_PRUNE_BATCH = 10_000


async def stores_with_variants(conn: Connection, variant_ids: Sequence[str]) -> list[str]:
    """Enabled stores syncing any of the named variants (none for an empty list)."""
    if not variant_ids:
        return []
    return sorted(r["store_id"] for r in await conn.fetch(query("stores_with_variants"), list(variant_ids)))


async def stores_to_refresh(conn: Connection, variant_ids: Sequence[str]) -> list[str]:
    """Stores a catalog update concerns: those syncing any named variant, or every enabled store."""
    if variant_ids:
        return [r["store_id"] for r in await conn.fetch(query("stores_with_variants"), list(variant_ids))]
    return [r["id"] for r in await conn.fetch(query("enabled_store_ids"))]
