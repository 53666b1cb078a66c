"""The baseline: a store sync written the way cron scripts usually are.

For each store: read the desired values, then for every variant GET it from the store and, when it
differs, POST that one item. No batching, no pacing, no memory of what was written before.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from daemon.db import state as state_db
from daemon.db.pool import Pool
from tests.bench.catalog import TOKEN


@dataclass
class NaiveCounts:
    reads: int = 0
    writes: int = 0

    @property
    def calls(self) -> int:
        return self.reads + self.writes


async def naive_sync(pool: Pool, session: aiohttp.ClientSession, store_id: str, url: str) -> NaiveCounts:
    counts = NaiveCounts()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async for page in state_db.pass_pages(pool, store_id, 10_000):
        for row in page:
            desired = row.state.desired
            if desired is None:
                continue
            ext = row.state.external_id
            async with session.get(f"{url}/api/items", params={"ids": ext}, headers=headers) as response:
                response.raise_for_status()
                items = (await response.json())["items"]
            counts.reads += 1
            shown = items[0] if items else None
            if shown and (shown["available"], shown["quantity"]) == (desired.available, desired.quantity):
                continue
            update = {"external_id": ext, "available": desired.available, "quantity": desired.quantity}
            async with session.post(
                f"{url}/api/items/batch", json={"updates": [update]}, headers=headers
            ) as response:
                response.raise_for_status()
            counts.writes += 1
    return counts
