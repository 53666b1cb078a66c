"""A pass outside the daemon's workers (`stocksync sync STORE`) holds the store like a worker does.

It takes the store's lock (waiting while a daemon works the store), marks the store as in a pass so
stock changes arriving meanwhile are queued rather than lost, and hands back the store's queued items
it claimed (the daemon re-checks them; they are cheap when already in sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from daemon.db import work_queue
from daemon.db.leases import StoreLocks
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool

HOLDER = "cli"


@asynccontextmanager
async def hold_store(pool: Pool, store_id: str, mark_s: float) -> AsyncIterator[Callable[[], bool]]:
    locks = StoreLocks(pool)
    try:
        if await locks.try_lock([store_id]) is None:
            print(f"store {store_id} is being synced by a running daemon: waiting for it", file=sys.stderr)
            await locks.wait_lock(store_id)
        async with pool.acquire() as conn:
            items = await work_queue.claim_store_work(conn, store_id, HOLDER, mark_s)
        renewer = asyncio.create_task(work_queue.keep_pass_mark(pool, store_id, HOLDER, mark_s))
        try:
            yield lambda: locks.holds(store_id)
        finally:
            renewer.cancel()
            with contextlib.suppress(*DATABASE_UNAVAILABLE):
                async with pool.acquire() as conn:
                    await work_queue.release(conn, store_id, [i.id for i in items])
                await work_queue.clear_pass_mark(pool, store_id, HOLDER)
    finally:
        await locks.close()
