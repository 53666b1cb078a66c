"""The mass-unavailable guard's store state: held since when and why, and which writes are held.

Every change locks the store's schedule row first, so a pass recording what it held, a confirm and the
release check never interleave. The decisions themselves are daemon/guard.py's (pure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from daemon.db import work_queue
from daemon.db.pool import Connection, Pool
from daemon.db.queries import query


@dataclass(frozen=True, slots=True)
class GuardHold:
    since: datetime
    reason: str | None  # why it tripped


class Recorded(StrEnum):
    HELD = "held"  # the store is (still) held
    RELEASED = "released"  # nothing is held any more
    NOT_HELD = "not_held"  # released or confirmed meanwhile: the pass's held writes were queued again


async def current(db: Connection | Pool, store_id: str) -> GuardHold | None:
    row = await db.fetchrow(query("guard_state"), store_id)
    if row is None or row["guard_held_at"] is None:
        return None
    return GuardHold(row["guard_held_at"], row["guard_reason"])


async def record_pass(
    pool: Pool,
    store_id: str,
    *,
    trip_reason: str | None,
    held: Sequence[str],
    looked_at: Sequence[str] | None,
    trigger: str,
) -> Recorded:
    """After a pass of a held (or just tripped) store: hold `held`, forget holds of the variants it
    looked at (`looked_at`; None = all, a full pass) that it did not hold, release when none is left.
    If the store stopped being held since the pass read its state, the held writes are queued again so
    a later pass decides them under the state as it is now."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(query("lock_guard"), store_id)
        held_now = row is not None and row["guard_held_at"] is not None
        if not held_now and trip_reason is not None and held:
            await conn.execute(query("trip_guard"), store_id, trip_reason)
            held_now = True
        if not held_now:
            await work_queue.enqueue_variants(conn, store_id, held, trigger)
            return Recorded.NOT_HELD
        await conn.execute(
            query("unhold_items"), store_id, list(looked_at) if looked_at is not None else None, list(held)
        )
        await conn.execute(query("hold_items"), store_id, list(held))
        released = await conn.fetchval(query("release_if_none_held"), store_id)
        return Recorded.RELEASED if released is not None else Recorded.HELD


async def clear(pool: Pool, store_id: str) -> bool:
    """The operator confirmed the held writes; True when the store was held."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(query("lock_guard"), store_id)
        await conn.execute(query("clear_guard"), store_id)
        return row is not None and row["guard_held_at"] is not None


async def release_undone(pool: Pool) -> list[str]:
    """Release held stores whose held writes are no longer less sellable (upstream undid the change);
    returns the stores released. With nothing held it is one look at store_schedule."""
    async with pool.acquire() as conn, conn.transaction():
        stores = [r["store_id"] for r in await conn.fetch(query("lock_held_stores"))]
        if not stores:
            return []
        await conn.execute(query("skip_jit"))
        await conn.execute(query("drop_undone_holds"), stores)
        return [r["store_id"] for r in await conn.fetch(query("release_stores_none_held"), stores)]
