"""Upstream sources in the database: the two imports, pull state (requests, lease, validators,
freshness) and applying a snapshot.

`apply_snapshot` is one transaction: the snapshot is checked whole (a bad row refuses it all), then
written newest-wins against facility stock and the changed (store, synced variant) pairs queued with
the same set-based enqueue as events, so a pull that flips many variants meets the mass-unavailable
guard in the passes like any change. Rows a snapshot does not name are never touched.
Holds only a credential's name; never reads a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.db import events
from daemon.db.pool import Connection, Pool
from daemon.db.queries import query
from daemon.errors import NotFoundError
from daemon.importer import ImportCounts, ImportRow, check_references
from daemon.upstream_events import MAX_CLOCK_SKEW
from sources.checks import check_coverage, check_kinds
from sources.interface import Snapshot, SourceConfig, SourceError, Validators

Executor = Connection | Pool
TRIGGER = "source"  # the trigger of the store items a pull queues (their runs say so)
# past this many changed variants the enqueue plans over the whole catalog, as an import does
_WHOLE_CATALOG_FROM = 1_000


def _column(rows: Sequence[ImportRow], name: str) -> list[Any]:
    return [row.values[name] for row in rows]


async def existing_source_ids(db: Executor, ids: Iterable[str]) -> set[str]:
    return {r["id"] for r in await db.fetch(query("existing_sources"), sorted(set(ids)))}


async def import_sources(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    """The `sources` import (inside the caller's transaction): facilities must exist."""
    facility_rows = [
        ImportRow(row.line, {"facility_id": ident})
        for row in rows
        for ident in row.values["facilities"].split()
    ]
    found = {
        r["id"] for r in await conn.fetch(query("existing_facilities"), _column(facility_rows, "facility_id"))
    }
    check_references(facility_rows, "facility_id", found, "facility", source)
    c = _column
    changed = await conn.fetch(
        query("upsert_sources"),
        c(rows, "id"),
        c(rows, "kind"),
        c(rows, "credential"),
        [json.dumps(v, sort_keys=True) for v in c(rows, "settings")],
        c(rows, "facilities"),
        c(rows, "pull_interval_minutes"),
        c(rows, "enabled"),
    )
    await conn.execute(query("ensure_source_state"), c(rows, "id"))
    new = sum(1 for r in changed if r["inserted"])
    return ImportCounts(len(rows), new, len(changed) - new)


async def import_source_mappings(conn: Connection, rows: Sequence[ImportRow], source: str) -> ImportCounts:
    """The `source-mappings` import: sources and variants must exist."""
    check_references(
        rows, "source_id", await existing_source_ids(conn, _column(rows, "source_id")), "source", source
    )
    variants = await conn.fetch(query("existing_variant_kinds"), sorted(set(_column(rows, "variant_id"))))
    check_references(rows, "variant_id", {r["id"] for r in variants}, "variant", source)
    c = _column
    changed = await conn.fetch(
        query("upsert_source_mappings"), c(rows, "source_id"), c(rows, "external_id"), c(rows, "variant_id")
    )
    new = sum(1 for r in changed if r["inserted"])
    return ImportCounts(len(rows), new, len(changed) - new)


async def request_pulls_for_variants(conn: Connection, variant_ids: Sequence[str] | None) -> list[str]:
    """A catalog update: the sources covering these variants (None: every source) are asked for a
    pull (persisted)."""
    ids = None if variant_ids is None else sorted(set(variant_ids))
    rows = await conn.fetch(query("request_pulls_for_variants"), ids)
    return sorted(r["source_id"] for r in rows)


async def load_source(db: Executor, source_id: str) -> tuple[SourceConfig, bool]:
    """The source as a reader sees it, and whether it is enabled; NotFoundError naming an unknown id."""
    row = await db.fetchrow(query("load_source"), source_id)
    if row is None:
        raise NotFoundError(f"no source {source_id!r} (import it with `stocksync import sources FILE`)")
    mappings = await db.fetch(query("source_mappings_of"), source_id)
    settings = json.loads(row["settings"])
    if not isinstance(settings, dict):  # the import only stores objects; a hand-made row may not
        raise SourceError(f"source {source_id}: settings", "must be a JSON object")
    config = SourceConfig(
        id=row["id"],
        kind=row["kind"],
        settings=settings,
        credential=row["credential"],
        facilities=frozenset(row["facilities"]),
        variants={m["external_id"]: m["variant_id"] for m in mappings},
        pull_interval_s=row["pull_interval_s"],
    )
    return config, bool(row["enabled"])


async def request_pull(db: Executor, source_id: str, only: Sequence[str] | None = None) -> bool:
    """Persist a pull request (whole source, or only these upstream ids); False for an unknown source."""
    if only is None:
        return await db.fetchval(query("request_pull"), source_id) is not None
    return await db.fetchval(query("request_partial_pull"), source_id, sorted(set(only))) is not None


@dataclass(frozen=True, slots=True)
class Claim:
    """A source this process may pull now (its lease is ours), with what the pull should send."""

    source_id: str
    requested_at: datetime | None  # the request this pull serves, cleared when it finishes
    only: frozenset[str] | None  # a partial pull of these upstream ids
    previous: Validators


async def claim_pulls(
    db: Executor, owner: str, lease_s: float, limit: int, source_id: str | None = None
) -> list[Claim]:
    """Due or requested sources (or the one named, due or not) whose lease was free; now ours."""
    rows = await db.fetch(query("claim_source_pulls"), owner, lease_s, limit, source_id)
    return [
        Claim(
            r["source_id"],
            r["pull_requested_at"],
            None if r["requested_ids"] is None else frozenset(r["requested_ids"]),
            Validators(r["etag"], r["last_modified"]),
        )
        for r in rows
    ]


async def finish_pull(
    db: Executor,
    claim: Claim,
    owner: str,
    validators: Validators,
    rows: int | None,
    *,
    complete: bool,
    jitter_share: float,
) -> None:
    await db.execute(
        query("finish_source_pull"),
        claim.source_id,
        owner,
        claim.requested_at,
        validators.etag,
        validators.last_modified,
        rows,
        complete,
        jitter_share,
    )


async def fail_pull(db: Executor, claim: Claim, owner: str, reason: str) -> None:
    await db.execute(query("fail_source_pull"), claim.source_id, owner, claim.requested_at, reason[:500])


async def pull_state(db: Executor, source_id: str) -> dict[str, Any] | None:
    row = await db.fetchrow(query("source_pull_state"), source_id)
    return None if row is None else dict(row)


async def source_freshness(db: Executor, stale_after_intervals: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch(query("source_freshness"), stale_after_intervals)]


@dataclass(frozen=True, slots=True)
class Applied:
    rows: int  # rows in the snapshot
    changed: int  # (variant, facility) rows whose stock value changed
    queued: int  # store items queued to write
    changed_variants: tuple[str, ...]


async def apply_snapshot(conn: Connection, source: SourceConfig, snapshot: Snapshot) -> Applied:
    """Check the whole snapshot, then apply it newest-wins and queue what changed, in one transaction.

    Raises SourceError (nothing applied) for a row outside the source's facilities or mappings, an
    unknown variant, a quantity the variant's kind cannot have, or a duplicate row.
    """
    rows = snapshot.rows
    check_coverage(source, rows)
    if not rows:
        return Applied(0, 0, 0, ())
    async with conn.transaction():
        variant_ids = sorted({r.variant_id for r in rows})
        kinds = {r["id"]: r["kind"] for r in await conn.fetch(query("variant_kinds_of"), variant_ids)}
        check_kinds(rows, kinds)
        await events.lock_for_stock_change(conn, variant_ids)
        changed = await conn.fetch(
            query("apply_snapshot"),
            [r.variant_id for r in rows],
            [r.facility_id for r in rows],
            [str(r.status) for r in rows],
            [r.quantity for r in rows],
            snapshot.observed_at,
            MAX_CLOCK_SKEW,
        )
        changed_variants = tuple(sorted({r["variant_id"] for r in changed}))
        queued = 0
        if changed_variants:
            whole = len(changed_variants) > _WHOLE_CATALOG_FROM
            queued = await events.enqueue_changed(conn, None if whole else changed_variants, TRIGGER)
    return Applied(len(rows), len(changed), queued, changed_variants)
