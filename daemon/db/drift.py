"""Drift records: open (one per variant), close by policy or store, list, and resolve by support."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.errors import NotFoundError
from daemon.planner import DriftFinding


@dataclass(frozen=True, slots=True)
class DriftToOpen:
    external_id: str
    variant_id: str
    finding: DriftFinding


async def open_drift(
    conn: Connection, store_id: str, drifts: Sequence[DriftToOpen], *, via: str, run_id: int | None
) -> int:
    """Open or refresh records; returns how many were newly opened."""
    if not drifts:
        return 0
    rows = await conn.fetch(
        query("open_drift"),
        store_id,
        via,
        run_id,
        [d.external_id for d in drifts],
        [d.variant_id for d in drifts],
        [d.finding.expected.available for d in drifts],
        [d.finding.expected.quantity for d in drifts],
        [d.finding.store.available for d in drifts],
        [d.finding.store.quantity for d in drifts],
        [str(d.finding.action) for d in drifts],
        [d.finding.expected.unlimited for d in drifts],
        [d.finding.store.unlimited for d in drifts],
    )
    return sum(1 for r in rows if r["opened"])


async def close_drift(
    conn: Connection, store_id: str, external_ids: Sequence[str], status: str, by: str
) -> None:
    if external_ids:
        await conn.execute(query("close_drift"), store_id, list(external_ids), status, by)


async def list_drift(
    conn: Connection | Pool, *, store_id: str | None = None, status: str = "open", limit: int = 1000
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(query("list_drift"), store_id, status, limit)]


async def get_drift(conn: Connection | Pool, drift_id: int) -> dict[str, Any]:
    record = await conn.fetchrow(query("get_drift"), drift_id)
    if record is None:
        raise NotFoundError(f"no drift record {drift_id}")
    return dict(record)


async def resolve(conn: Connection, drift_id: int, resolution: str, by: str) -> tuple[str, str]:
    """Resolve an open record by support: `accept` (store wins, sync paused) or `reapply` (desired wins).

    Returns (store_id, external_id). The caller writes the desired value after a reapply.
    """
    async with conn.transaction():
        status = {"accept": "accepted", "reapply": "reapplied"}[resolution]
        record = await conn.fetchrow(query("resolve_drift"), drift_id, status, by)
        if record is None:
            raise NotFoundError(f"no open drift record {drift_id}")
        store_id, external_id = record["store_id"], record["external_id"]
        if resolution == "accept":
            await conn.execute(
                query("accept_store_value"), store_id, external_id, f"drift {drift_id} accepted by {by}"
            )
        else:
            await conn.execute(query("rebase_for_reapply"), store_id, external_id)
        return store_id, external_id
