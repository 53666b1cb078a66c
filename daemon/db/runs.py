"""Sync runs and the change log: the record of what every pass checked, wrote and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.db.pool import Connection, Pool
from daemon.db.queries import query


@dataclass(frozen=True, slots=True)
class ChangeLogEntry:
    external_id: str
    variant_id: str
    before_available: bool | None
    before_quantity: int | None
    after_available: bool
    after_quantity: int | None
    reason: str
    outcome: str  # applied | failed | rejected
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RunCounts:
    checked: int = 0
    changed: int = 0
    drifted: int = 0
    unknown: int = 0
    failed: int = 0
    not_found: int = 0


async def start_run(conn: Connection | Pool, store_id: str, trigger: str, dry_run: bool) -> int:
    return int(await conn.fetchval(query("start_run"), store_id, trigger, dry_run))


async def finish_run(
    conn: Connection | Pool,
    store_id: str,
    run_id: int,
    outcome: str,
    counts: RunCounts,
    held_reason: str | None = None,
    error: str | None = None,
) -> None:
    await conn.execute(
        query("finish_run"),
        store_id,
        run_id,
        outcome,
        counts.checked,
        counts.changed,
        counts.drifted,
        counts.unknown,
        counts.failed,
        counts.not_found,
        held_reason,
        error,
    )


async def log_changes(
    conn: Connection, store_id: str, run_id: int | None, entries: Sequence[ChangeLogEntry]
) -> None:
    if not entries:
        return
    columns: list[list[Any]] = [[getattr(e, name) for e in entries] for name in _LOG_COLUMNS]
    await conn.execute(query("log_changes"), store_id, run_id, *columns)


_LOG_COLUMNS = (
    "external_id",
    "variant_id",
    "before_available",
    "before_quantity",
    "after_available",
    "after_quantity",
    "reason",
    "outcome",
    "error",
)


async def mark_pass_succeeded(conn: Connection | Pool, store_id: str) -> None:
    await conn.execute(query("mark_pass_succeeded"), store_id)
