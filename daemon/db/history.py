"""A synced variant's history: facility statuses behind its desired value, writes, drift, store state."""

from __future__ import annotations

from typing import Any

from daemon.db.pool import Pool
from daemon.db.queries import query
from daemon.db.state import pass_pages
from daemon.errors import NotFoundError


async def variant_history(pool: Pool, store_id: str, external_id: str) -> dict[str, Any]:
    """Everything support needs to answer "why is this variant (un)available?"."""
    overview = await pool.fetchrow(query("variant_overview"), store_id, external_id)
    if overview is None:
        raise NotFoundError(f"store {store_id!r} syncs no variant with external id {external_id!r}")
    desired = None
    async for page in pass_pages(pool, store_id, 1, only=[external_id]):
        desired = page[0].state.desired if page else None
    facilities = await pool.fetch(query("variant_facilities"), overview["variant_id"], overview["region_id"])
    writes = await pool.fetch(query("variant_writes"), store_id, external_id)
    drift = await pool.fetch(query("variant_drift"), store_id, external_id)
    return {
        "variant": dict(overview),
        "desired": desired and {"available": desired.available, "quantity": desired.quantity},
        "facilities": [dict(r) for r in facilities],
        "writes": [dict(r) for r in writes],
        "drift": [dict(r) for r in drift],
    }
