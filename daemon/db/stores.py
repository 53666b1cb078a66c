"""Store rows: the import upsert (with its schedule row) and reads as StoreConfig for engine and CLI.

Holds only a credential's *name*; never reads, stores or returns a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.errors import NotFoundError
from daemon.importer import ImportCounts, ImportRow
from daemon.model import DriftPolicy, StoreConfig, StoreMode, StoreRules


async def existing_store_ids(conn: Connection | Pool, ids: Iterable[str]) -> set[str]:
    return {r["id"] for r in await conn.fetch(query("existing_stores"), sorted(set(ids)))}


async def upsert_stores(conn: Connection, rows: Sequence[ImportRow]) -> ImportCounts:
    """Insert or update store rows (references already checked) and make sure each has a schedule."""

    def column(name: str) -> list[Any]:
        return [row.values[name] for row in rows]

    changed = await conn.fetch(
        query("upsert_stores"),
        column("id"),
        column("platform"),
        column("region"),
        column("credential"),
        [str(v) for v in column("drift_policy")],
        [str(v) for v in column("mode")],
        column("safety_buffer"),
        column("max_quantity"),
        column("pod_quantity"),
        column("full_pass_interval_minutes"),
        [json.dumps(v, sort_keys=True) for v in column("settings")],
        column("enabled"),
    )
    await conn.execute(query("ensure_store_schedules"), column("id"))
    new = sum(1 for r in changed if r["inserted"])
    return ImportCounts(len(rows), new, len(changed) - new)


def _store_config(record: Any) -> StoreConfig:
    rules = StoreRules(
        mode=StoreMode(record["mode"]),
        safety_buffer=record["safety_buffer"],
        max_quantity=record["max_quantity"],
        pod_quantity=record["pod_quantity"],
    )
    return StoreConfig(
        id=record["id"],
        platform=record["platform"],
        region=record["region_id"],
        credential=record["credential"],
        drift_policy=DriftPolicy(record["drift_policy"]),
        rules=rules,
        settings=json.loads(record["settings"]),
        enabled=record["enabled"],
        full_pass_interval_s=record["full_pass_interval_s"],
    )


async def load_store(conn: Connection | Pool, store_id: str) -> StoreConfig:
    record = await conn.fetchrow(query("load_store"), store_id)
    if record is None:
        raise NotFoundError(f"no store {store_id!r} (import it with `stocksync import stores FILE`)")
    return _store_config(record)


async def point_store_at(conn: Connection | Pool, store_id: str, base_url: str) -> bool:
    """Set a store's base_url (a sandbox serving it); False when no such store was imported."""
    return await conn.fetchval(query("point_store_at"), store_id, base_url) is not None


async def store_ids(conn: Connection | Pool) -> list[str]:
    return [r["id"] for r in await conn.fetch(query("store_ids"))]


async def list_stores(conn: Connection | Pool, *, enabled_only: bool = False) -> list[StoreConfig]:
    return [_store_config(r) for r in await conn.fetch(query("list_stores"), enabled_only)]
