"""Read-only figures for metrics and readiness: per-store freshness, open drift and contested variants
per platform."""

from __future__ import annotations

from typing import Any

from daemon.db.pool import Pool
from daemon.db.queries import query


async def store_freshness(pool: Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(query("store_freshness"))]


async def open_drift_counts(pool: Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(query("open_drift_counts"))]


async def contested_counts(pool: Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(query("contested_counts"))]


async def queue_oldest_ready_age(pool: Pool) -> float:
    return float(await pool.fetchval(query("queue_oldest_ready")))
