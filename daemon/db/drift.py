"""Drift records: open (one per variant), close by policy or store, list in pages, resolve by support."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.drift_listing import MAX_LIMIT, DriftFilter, PageSpan, Position, page_span
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


@dataclass(frozen=True, slots=True)
class DriftPage:
    """One page of a listing, where it sits in the whole, and the cursors around it."""

    records: list[dict[str, Any]]
    span: PageSpan
    older: Position | None  # the next page starts after this position (None: this is the last)
    newer: Position | None  # the previous page ends before this position (None: this is the first)


def _position(record: Mapping[str, Any]) -> Position:
    return Position(record["detected_at"], record["id"])


async def _rows(
    conn: Connection | Pool, where: DriftFilter, direction: str, at: Position | None, limit: int
) -> list[dict[str, Any]]:
    name = f"drift_{direction}_page" + ("_in_store" if where.store_id is not None else "")
    args: list[Any] = [where.status, where.older_than_h]
    args += [at.detected_at, at.id] if at else [None, None]
    args.append(limit)
    if where.store_id is not None:
        args.append(where.store_id)
    return [dict(r) for r in await conn.fetch(query(name), *args)]


async def count_drift(conn: Connection | Pool, where: DriftFilter, newer_than: Position | None = None) -> int:
    """How many records match (all of them, or only those newer than a position)."""
    name = "count_drift_newer" + ("_in_store" if where.store_id is not None else "")
    args: list[Any] = [where.status, where.older_than_h]
    args += [newer_than.detected_at, newer_than.id] if newer_than else [None, None]
    if where.store_id is not None:
        args.append(where.store_id)
    count = await conn.fetchval(query(name), *args)
    assert isinstance(count, int)
    return count


async def drift_page(
    pool: Pool,
    where: DriftFilter,
    *,
    limit: int,
    after: Position | None = None,
    before: Position | None = None,
) -> DriftPage:
    """The page after a cursor (the newest page without one), or the page just before `before`
    (give one cursor at most).

    Page and totals come from one snapshot, so the span and cursors agree with the records shown.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        records: list[dict[str, Any]] = []
        if before is not None:
            records = list(reversed(await _rows(conn, where, "newer", before, limit)))
        if len(records) < limit:  # no cursor, or too few newer records to fill a page: the newest page
            records = await _rows(conn, where, "older", after, limit)
        total = await count_drift(conn, where)
        ahead = await count_drift(conn, where, _position(records[0])) if records else 0
    span = page_span(ahead, len(records), total)
    return DriftPage(
        records,
        span,
        older=_position(records[-1]) if records and span.has_older else None,
        newer=_position(records[0])
        if records and span.has_newer
        else _back_from_empty(records, after, total),
    )


def _back_from_empty(records: list[dict[str, Any]], after: Position | None, total: int) -> Position | None:
    """An empty page after a cursor (everything older was resolved meanwhile) leads back to the page
    ending with the cursor's own record: ids are whole numbers, so id - 1 is the next key below it."""
    if records or after is None or not total:
        return None
    return Position(after.detected_at, after.id - 1)


async def each_drift_page(
    conn: Connection | Pool, where: DriftFilter, page_size: int = MAX_LIMIT
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every matching record, newest first, one page per query (no long transaction, no cut)."""
    after: Position | None = None
    while True:
        records = await _rows(conn, where, "older", after, page_size)
        if records:
            yield records
        if len(records) < page_size:
            return
        after = _position(records[-1])


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


async def resume_variant(conn: Connection | Pool, store_id: str, external_id: str) -> None:
    """Sync a variant whose store value support accepted again; NotFoundError when it is not synced."""
    if await conn.fetchval(query("resume_variant"), store_id, external_id) is None:
        raise NotFoundError(f"store {store_id!r} syncs no variant with external id {external_id!r}")
