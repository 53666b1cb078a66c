"""Store state: desired pages (set-based, keyset-streamed), observed upserts and applied records.

Every write here is one statement per batch (arrays through unnest), never one per variant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.model import Availability, Change, Observed
from daemon.planner import DriftAction, VariantState


@dataclass(frozen=True, slots=True)
class PassRow:
    """One synced variant as a pass starts: the planner's input plus what reports need."""

    state: VariantState
    sku: str
    kind: str


def _availability(
    available: bool | None, quantity: int | None, unlimited: bool = False
) -> Availability | None:
    return None if available is None else Availability(available, quantity, unlimited)


def _to_row(record: asyncpg.Record) -> PassRow:
    state = VariantState(
        external_id=record["external_id"],
        variant_id=record["variant_id"],
        desired=_availability(record["desired_available"], record["desired_quantity"]),
        applied=_availability(
            record["applied_available"], record["applied_quantity"], record["applied_unlimited"]
        ),
        pending=_availability(record["pending_available"], record["pending_quantity"]),
        platform_ref=record["platform_ref"],
        sync_enabled=record["sync_enabled"],
        open_drift=DriftAction(record["open_drift"]) if record["open_drift"] else None,
        drift_count=record["drift_count"],
        overwrite_not_before=record["overwrite_not_before"],
    )
    return PassRow(state, record["sku"], record["kind"])


async def pass_pages(
    pool: Pool, store_id: str, page_size: int, only: Sequence[str] | None = None
) -> AsyncIterator[list[PassRow]]:
    """Pages of a store's synced variants in external-id order; each page is one query."""
    after = ""
    while True:
        records = await pool.fetch(
            query("pass_rows"), store_id, after, page_size, list(only) if only else None
        )
        if not records:
            return
        yield [_to_row(r) for r in records]
        if len(records) < page_size:
            return
        after = records[-1]["external_id"]


async def synced_external_ids(conn: Connection | Pool, store_id: str) -> list[str]:
    return [r["external_id"] for r in await conn.fetch(query("synced_external_ids"), store_id)]


async def desired_now(
    conn: Connection | Pool, store_id: str, external_ids: Sequence[str]
) -> dict[str, tuple[Availability | None, bool]]:
    """{external id: (desired value now, sync enabled)} for the given synced variants (gone: absent)."""
    rows = await conn.fetch(query("pass_rows"), store_id, "", len(external_ids), list(external_ids))
    return {
        r["external_id"]: (_availability(r["desired_available"], r["desired_quantity"]), r["sync_enabled"])
        for r in rows
    }


async def count_synced(conn: Connection | Pool, store_id: str) -> int:
    return int(await conn.fetchval(query("count_synced"), store_id))


async def upsert_observed(conn: Connection, store_id: str, observed: Sequence[Observed]) -> None:
    if not observed:
        return
    await conn.execute(query("upsert_observed"), store_id, *_observed_columns(observed))


@dataclass(frozen=True, slots=True)
class StateUpdate:
    external_id: str
    drift_count: int
    overwrite_not_before: datetime | None
    contested: bool
    confirm_applied: bool


async def record_decisions(conn: Connection, store_id: str, updates: Sequence[StateUpdate]) -> None:
    if not updates:
        return
    await conn.execute(
        query("record_decisions"),
        store_id,
        [u.external_id for u in updates],
        [u.drift_count for u in updates],
        [u.overwrite_not_before for u in updates],
        [u.contested for u in updates],
        [u.confirm_applied for u in updates],
    )


async def record_applied(conn: Connection, store_id: str, confirmed: Sequence[Observed]) -> None:
    if not confirmed:
        return
    await conn.execute(query("record_applied"), store_id, *_observed_columns(confirmed))


def _observed_columns(values: Sequence[Observed]) -> tuple[list[Any], ...]:
    """Observed values as the column arrays the unnest() upserts take."""
    return (
        [v.external_id for v in values],
        [v.available for v in values],
        [v.quantity for v in values],
        [dict(v.platform_ref) if v.platform_ref is not None else None for v in values],
        [v.unlimited for v in values],
    )


async def record_intents(conn: Connection | Pool, store_id: str, changes: Sequence[Change]) -> None:
    """Write-ahead: the values a batch is about to ask the store for, before the request leaves."""
    if not changes:
        return
    await conn.execute(
        query("record_intents"),
        store_id,
        [c.external_id for c in changes],
        [c.target.available for c in changes],
        [c.target.quantity for c in changes],
    )


async def record_overwrite_backoff(
    conn: Connection, store_id: str, backoffs: Sequence[tuple[str, datetime]]
) -> None:
    if backoffs:
        await conn.execute(
            query("record_overwrite_backoff"), store_id, [e for e, _ in backoffs], [t for _, t in backoffs]
        )


async def record_failures(conn: Connection, store_id: str, failures: Sequence[tuple[str, str]]) -> None:
    if not failures:
        return
    await conn.execute(
        query("record_failures"), store_id, [ext for ext, _ in failures], [reason for _, reason in failures]
    )


async def record_value_problems(conn: Connection, store_id: str, problems: Mapping[str, str]) -> None:
    """Per-item reasons for store values stocksync cannot hold (daemon/store_values.screen)."""
    if not problems:
        return
    await conn.execute(query("record_value_problems"), store_id, list(problems), list(problems.values()))


async def take_delivery(conn: Connection | Pool, store_id: str, delivery_id: str) -> bool:
    """True the first time a store's webhook delivery id is seen; False for a re-delivery."""
    return await conn.fetchval(query("take_delivery"), store_id, delivery_id[:200]) is not None


async def take_notified(
    conn: Connection | Pool, store_id: str, external_ids: Sequence[str], stamped: datetime
) -> set[str]:
    """The items a notification stamped `stamped` (platform clock) may speak for: those with no later
    notification taken; their stamp moves up to it."""
    rows = await conn.fetch(query("take_notified"), store_id, list(external_ids), stamped)
    return {r["external_id"] for r in rows}


async def prune_deliveries(conn: Connection | Pool, retention_s: float) -> int:
    status = await conn.execute(query("prune_deliveries"), retention_s)
    return int(status.split()[-1])


async def external_id_for(conn: Connection | Pool, store_id: str, key: str, ref_name: str) -> str | None:
    """Resolve a notification's id: an external id, or a platform ref such as an inventory item id."""
    value = await conn.fetchval(query("observed_from_notification"), store_id, key, ref_name)
    return str(value) if value is not None else None
