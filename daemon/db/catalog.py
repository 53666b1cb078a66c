"""Catalog imports: facilities, regions, variants, facility stock, stores and synced variants.

`import_rows` is the one entry point for `stocksync import`: it checks every referenced id with one
set-based lookup per table, then writes all rows with one set-based upsert, inside the caller's
transaction. It never opens a transaction of its own and never reads a file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from daemon.db import events, stores
from daemon.db import sources as sources_db
from daemon.db.pool import Connection
from daemon.db.queries import query
from daemon.errors import InputError
from daemon.importer import KINDS, ImportCounts, ImportRow, check_references, check_stock_quantities
from daemon.upstream_events import MAX_CLOCK_SKEW


def _column(rows: Sequence[ImportRow], name: str) -> list[Any]:
    return [row.values[name] for row in rows]


async def _existing(conn: Connection, query_name: str, ids: Iterable[str]) -> set[str]:
    return {r["id"] for r in await conn.fetch(query(query_name), sorted(set(ids)))}


async def _require(
    conn: Connection, rows: Sequence[ImportRow], column: str, query_name: str, what: str, source: str
) -> None:
    found = await _existing(conn, query_name, _column(rows, column))
    check_references(rows, column, found, what, source)


async def _upsert(conn: Connection, query_name: str, rows: Sequence[ImportRow], *arrays: Any) -> ImportCounts:
    changed = await conn.fetch(query(query_name), *arrays)
    new = sum(1 for r in changed if r["inserted"])
    return ImportCounts(len(rows), new, len(changed) - new)


async def _facilities(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    c = _column
    return await _upsert(conn, "upsert_facilities", rows, c(rows, "id"), c(rows, "country"), c(rows, "name"))


async def _regions(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    await _require(conn, rows, "facility_id", "existing_facilities", "facility", source)
    regions, facilities = _column(rows, "region"), _column(rows, "facility_id")
    await conn.execute(query("insert_regions"), regions)
    # A region row is new or unchanged by its link: a link has nothing to update.
    return await _upsert(conn, "link_region_facilities", rows, regions, facilities)


async def _variants(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    c = _column
    kinds = [str(k) for k in c(rows, "kind")]
    return await _upsert(conn, "upsert_variants", rows, c(rows, "id"), c(rows, "sku"), kinds)


async def _stock(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    found = await conn.fetch(query("existing_variant_kinds"), sorted(set(_column(rows, "variant_id"))))
    kinds: Mapping[str, str] = {r["id"]: r["kind"] for r in found}
    check_references(rows, "variant_id", kinds, "variant", source)
    await _require(conn, rows, "facility_id", "existing_facilities", "facility", source)
    check_stock_quantities(rows, kinds, source)
    c = _column
    statuses = [str(s) for s in c(rows, "status")]
    return await _upsert(
        conn,
        "upsert_facility_stock",
        rows,
        c(rows, "variant_id"),
        c(rows, "facility_id"),
        statuses,
        c(rows, "quantity"),
        MAX_CLOCK_SKEW,
    )


async def _stores(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    await _require(conn, rows, "region", "existing_regions", "region", source)
    return await stores.upsert_stores(conn, rows)


async def _mappings(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    found_stores = await stores.existing_store_ids(conn, _column(rows, "store_id"))
    check_references(rows, "store_id", found_stores, "store", source)
    found_variants = await conn.fetch(
        query("existing_variant_kinds"), sorted(set(_column(rows, "variant_id")))
    )
    check_references(rows, "variant_id", {r["id"] for r in found_variants}, "variant", source)
    c = _column
    return await _upsert(
        conn,
        "upsert_synced_variants",
        rows,
        c(rows, "store_id"),
        c(rows, "external_id"),
        c(rows, "variant_id"),
    )


_IMPORTERS: Mapping[str, Callable[[Connection, Sequence[ImportRow], str], Awaitable[ImportCounts]]] = {
    "facilities": _facilities,
    "regions": _regions,
    "variants": _variants,
    "stock": _stock,
    "stores": _stores,
    "mappings": _mappings,
    "sources": sources_db.import_sources,
    "source-mappings": sources_db.import_source_mappings,
}
assert tuple(_IMPORTERS) == KINDS


async def import_rows(conn: Connection, kind: str, rows: Sequence[ImportRow], *, source: str) -> ImportCounts:
    """Check references, then upsert every row; raises InputError naming `source:LINE` on a missing id.

    Runs inside the caller's transaction so a failure anywhere leaves the database unchanged.
    """
    importer = _IMPORTERS.get(kind)
    if importer is None:
        raise InputError(source, "kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if not rows:
        return ImportCounts(0)
    if kind in _CHANGES_DESIRED:
        await events.lock_for_catalog_change(conn)  # alone against events and claims (migration 0005)
    counts = await importer(conn, rows, source)
    counts = replace(counts, queued=await _queue_changes(conn, kind, rows))
    if counts.new + counts.updated == 0:  # re-importing the same file is no catalog update
        return counts
    return replace(counts, pulls=await _request_pulls(conn, kind, rows))


# a catalog update (new variants, new store or source mappings) asks the sources covering those
# variants for a pull, as the POS bridge refreshes stock when the back office updates the catalog
_PULLS_VARIANTS_OF = {"variants": "id", "mappings": "variant_id", "source-mappings": "variant_id"}


async def _request_pulls(conn: Connection, kind: str, rows: Sequence[ImportRow]) -> int:
    column = _PULLS_VARIANTS_OF.get(kind)
    if column is None:
        return 0
    return len(await sources_db.request_pulls_for_variants(conn, _column(rows, column)))


_CHANGES_DESIRED = frozenset({"stores", "regions", "stock", "variants", "mappings"})
# an import naming more variants than this is planned over the whole catalog (hash joins, one pass)
_WHOLE_CATALOG_FROM = 1_000


async def _queue_changes(conn: Connection, kind: str, rows: Sequence[ImportRow]) -> int:
    """Queue the store items the import changed desired for, so a running daemon writes them now."""
    if kind not in _CHANGES_DESIRED:
        return 0
    if kind in ("stores", "regions"):  # store rules or region facilities: any variant may change
        return await events.enqueue_changed(conn, None, "catalog")
    variant_ids = sorted(set(_column(rows, "id" if kind == "variants" else "variant_id")))
    whole = len(variant_ids) > _WHOLE_CATALOG_FROM
    return await events.enqueue_changed(conn, None if whole else variant_ids, "catalog")
