"""`stocksync pull SOURCE`: "pull inventory" — read the upstream now, apply it, then write what changed.

The pull runs in this process (taking the source's lease, so a daemon never pulls it at the same
time), applies the snapshot like the daemon does (newest wins, guard in the passes), and then runs
a pass of every store that syncs a changed variant, as `stocksync sync STORE` would: with no daemon
running, the stores still follow. `--queue-only` stops after queueing: a running daemon writes them.
Exit status: 0 applied or unchanged (304), 1 refused or failed (nothing applied), 2 unknown source.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from typing import Any

from daemon.config import Config
from daemon.db import events
from daemon.db.pool import Pool
from daemon.engine import PassReport
from daemon.errors import InputError, NotFoundError
from daemon.resources import checked_pool, engine_for, source_puller_for
from daemon.source_pulls import PullResult
from daemon.store_hold import hold_store
from daemon.sync_commands import format_report


def register(commands: Any) -> None:
    pull = commands.add_parser(
        "pull", help='pull an upstream source now ("pull inventory"), then write the stores it changed'
    )
    pull.add_argument("source", help="source id (see `stocksync import sources`)")
    pull.add_argument(
        "--queue-only",
        action="store_true",
        help="apply and queue the changed store items only; a running daemon writes them",
    )
    pull.add_argument("--format", choices=("table", "json"), default="table")


async def cmd_pull(args: argparse.Namespace, config: Config) -> int:
    async with checked_pool(config) as pool:
        async with source_puller_for(config, pool, f"cli-{socket.gethostname()}-{os.getpid()}") as puller:
            try:
                result = await puller.pull_now(args.source)
            except NotFoundError as exc:  # a mistyped argument is bad input (exit 2), as for `sync`
                raise InputError("argument", "SOURCE", str(exc)) from None
        reports: list[PassReport] = []
        if result.outcome == "applied" and result.changed_variants and not args.queue_only:
            reports = await _write_stores(pool, config, result)
    print(_summary(result, reports, args.format))
    if result.outcome in ("refused", "failed"):
        return 1
    return 0 if all(r.outcome in ("ok", "held") for r in reports) else 1


async def _write_stores(pool: Pool, config: Config, result: PullResult) -> list[PassReport]:
    async with pool.acquire() as conn:
        stores = await events.stores_with_variants(conn, result.changed_variants)
    reports = []
    async with engine_for(config, pool) as engine:
        for store_id in stores:
            async with hold_store(pool, store_id, config.sync.in_pass_mark_ttl_s) as holds:
                reports.append(await engine.run_pass(store_id, trigger="source", holds_store=holds))
    return reports


def _summary(result: PullResult, reports: list[PassReport], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "source_id": result.source_id,
                "outcome": result.outcome,
                "rows": result.rows,
                "changed": result.changed,
                "queued": result.queued,
                "error": result.error,
                "stores": [json.loads(format_report(r, "json")) for r in reports],
            },
            indent=2,
        )
    if result.outcome == "not_modified":
        head = f"source {result.source_id}: not modified (304); nothing changed"
    elif result.outcome == "applied":
        head = (
            f"source {result.source_id}: pulled {result.rows} rows, {result.changed} changed, "
            f"{result.queued} store items queued"
        )
    else:
        head = f"source {result.source_id}: {result.outcome}, nothing applied: {result.error}"
    return "\n".join([head, *(format_report(r, "table") for r in reports)])
