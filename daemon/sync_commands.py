"""CLI commands around passes and drift: `sync`, `show desired`, `drift list|report|resolve`.

Parsing and printing only; the work is the engine's and the database layer's.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import aiohttp

from daemon.config import Config, listen_address
from daemon.credentials import ADMIN_TOKEN
from daemon.db import drift as drift_db
from daemon.db.pool import Pool
from daemon.db.state import pass_pages
from daemon.db.stores import load_store
from daemon.drift_listing import DRIFT_COLUMNS, STATUSES, DriftFilter, drift_rows, parse_age
from daemon.engine import REAPPLY, PassReport, PlannedWrite
from daemon.errors import InputError, NotFoundError
from daemon.output import FORMATS, render, show_value
from daemon.resources import checked_pool, credential_store, engine_for
from daemon.store_hold import hold_store


def register(commands: Any) -> None:
    sync = commands.add_parser("sync", help="run one reconcile pass for a store now")
    sync.add_argument("store", help="store id")
    sync.add_argument("--dry-run", action="store_true", help="print the plan; write nothing anywhere")
    sync.add_argument("--format", choices=("table", "json"), default="table")
    sync.add_argument(
        "--confirm-guard",
        action="store_true",
        help="operator confirms a pass the mass-unavailable guard held",
    )
    sync.add_argument(
        "--via-daemon",
        action="store_true",
        help="ask the running daemon to queue a full pass now (admin API)",
    )

    show = commands.add_parser("show", help="show computed values")
    show_sub = show.add_subparsers(dest="show_command", required=True, metavar="WHAT")
    desired = show_sub.add_parser("desired", help="desired availability per synced variant of a store")
    desired.add_argument("--store", required=True)
    desired.add_argument("--format", choices=FORMATS, default="table")

    drift = commands.add_parser("drift", help="drift records (manual edits seen in stores)")
    drift_sub = drift.add_subparsers(dest="drift_command", required=True, metavar="SUBCOMMAND")
    for name, text in (("list", "list drift records"), ("report", "drift report for support staff")):
        listing = drift_sub.add_parser(name, help=text)
        listing.add_argument("--store")
        listing.add_argument("--status", choices=STATUSES, default="open")
        listing.add_argument(
            "--older-than", metavar="HOURS", help="only records detected at least HOURS hours ago"
        )
        listing.add_argument("--limit", metavar="N", help="print only the newest N records (default: all)")
        listing.add_argument("--format", choices=FORMATS, default="table")
    resolve = drift_sub.add_parser("resolve", help="resolve a drift record")
    resolve.add_argument("id", type=int)
    how = resolve.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--accept", action="store_true", help="take the store's value and stop syncing the variant"
    )
    how.add_argument("--reapply", action="store_true", help="write the desired value back now")
    resolve.add_argument("--by", default="cli", help="who resolves (recorded)")


async def cmd_sync(args: argparse.Namespace, config: Config) -> int:
    if args.via_daemon:
        return await _sync_via_daemon(args.store, config)
    async with checked_pool(config) as pool, engine_for(config, pool) as engine:
        await _known_store(pool, args.store, "STORE")
        if args.dry_run:  # writes nothing anywhere: needs no hold on the store
            report = await engine.run_pass(args.store, trigger="cli", dry_run=True)
        else:
            async with hold_store(pool, args.store, config.sync.in_pass_mark_ttl_s) as holds:
                report = await engine.run_pass(
                    args.store, trigger="cli", confirm_guard=args.confirm_guard, holds_store=holds
                )
    print(format_report(report, args.format))
    return 0 if report.outcome in ("ok", "held") else 1


async def _sync_via_daemon(store_id: str, config: Config) -> int:
    token = credential_store(config).load(ADMIN_TOKEN)
    host, port = listen_address(config)
    url = f"http://{host}:{port}/v1/stores/{store_id}/sync"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(url, headers={"Authorization": f"Bearer {token.reveal()}"}) as response,
        ):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"stocksync: daemon not reachable at {host}:{port} ({type(exc).__name__})", file=sys.stderr)
        return 1
    if response.status != 202:
        print(f"stocksync: daemon refused: HTTP {response.status}: {answer.get('error')}", file=sys.stderr)
        return 1
    state = "already queued" if answer.get("already_queued") else "queued"
    print(f"full pass for store {store_id} {state} in the running daemon")
    return 0


def _write_rows(planned: tuple[PlannedWrite, ...]) -> list[dict[str, Any]]:
    return [
        {
            "sku": w.sku,
            "external_id": w.external_id,
            "observed": show_value(w.observed.available, w.observed.quantity, w.observed.unlimited)
            if w.observed
            else "untracked",
            "desired": show_value(w.target.available, w.target.quantity),
            "reason": w.reason,
        }
        for w in planned
    ]


def format_report(report: PassReport, fmt: str) -> str:
    writes = _write_rows(report.writes)
    held = _write_rows(report.held_writes)
    failed = {f.external_id: f.reason for f in report.failures}
    if fmt == "json":
        return json.dumps(
            {
                "store_id": report.store_id,
                "dry_run": report.dry_run,
                "outcome": report.outcome,
                "held_reason": report.held_reason,
                "error": report.error,
                "counts": _counts(report),
                "writes": [w | {"failed": failed.get(w["external_id"])} for w in writes],
                "held_by_guard": held,
                "skipped": report.skipped,
            },
            indent=2,
        )
    planned_only = report.dry_run
    verb = "would write" if planned_only else "wrote"
    lines = [
        f"store {report.store_id}: {report.outcome}"
        + (f" — {report.held_reason}" if report.held_reason else "")
        + (f" — {report.error}" if report.error else ""),
        f"  checked {report.counts.checked}, {verb} {len(report.writes) if planned_only else report.counts.changed}, "
        f"drifted {report.counts.drifted}, unknown {report.counts.unknown}, failed {report.counts.failed}, "
        f"not found {report.counts.not_found}",
    ]
    if report.skipped:
        lines.append("  skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(report.skipped.items())))
    if writes:
        lines.append(render([w | {"failed": failed.get(w["external_id"], "")} for w in writes], "table"))
    if held:
        lines.append(f"  held by the mass-unavailable guard (not written): {len(held)}")
        lines.append(render(held, "table"))
    return "\n".join(lines)


def _counts(report: PassReport) -> dict[str, int]:
    c = report.counts
    return {
        "checked": c.checked,
        "changed": c.changed,
        "drifted": c.drifted,
        "unknown": c.unknown,
        "failed": c.failed,
        "not_found": c.not_found,
    }


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    async with checked_pool(config) as pool:
        await _known_store(pool, args.store, "--store")
        rows: list[dict[str, Any]] = []
        async for page in pass_pages(pool, args.store, 5000):
            for row in page:
                desired = row.state.desired
                rows.append(
                    {
                        "external_id": row.state.external_id,
                        "variant_id": row.state.variant_id,
                        "sku": row.sku,
                        "kind": row.kind,
                        "available": desired.available if desired else None,
                        "quantity": desired.quantity if desired else None,
                    }
                )
    print(render(rows, args.format, ["external_id", "variant_id", "sku", "kind", "available", "quantity"]))
    return 0


async def cmd_drift(args: argparse.Namespace, config: Config) -> int:
    if args.drift_command == "resolve":
        return await _resolve(args, config)
    where = DriftFilter(args.store, args.status, parse_age(args.older_than, "option", "--older-than"))
    limit = _positive_whole(args.limit, "--limit")
    records: list[dict[str, Any]] = []
    async with checked_pool(config) as pool:
        if args.store is not None:  # else a typo reads as "0 open records"
            await _known_store(pool, args.store, "--store")
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),  # total and rows agree
        ):
            total = await drift_db.count_drift(conn, where)
            async for page in drift_db.each_drift_page(conn, where):
                records += page
                if limit is not None and len(records) >= limit:
                    records = records[:limit]
                    break
    what = f"{total} {args.status} record(s)" + (
        f" older than {args.older_than} hours" if where.older_than_h is not None else ""
    )
    shown = what if len(records) == total else f"showing {len(records)} of {what}"
    if args.drift_command == "report" and args.format == "table":
        print(f"drift report: {shown}" + (f" for store {args.store}" if args.store else ""))
    print(render(drift_rows(records), args.format, DRIFT_COLUMNS))
    if args.drift_command == "list" and args.format == "table":
        print(shown)
    return 0


async def _known_store(pool: Pool, store_id: str, argument: str) -> None:
    """A store named on the command line that does not exist is bad input (exit 2), not a failure."""
    try:
        async with pool.acquire() as conn:
            await load_store(conn, store_id)
    except NotFoundError as exc:
        raise InputError("argument", argument, str(exc)) from None


def _positive_whole(raw: str | None, option: str) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18 and 0 < int(raw)):
        raise InputError("option", option, "expected a whole number of records, at least 1")
    return int(raw)


async def _resolve(args: argparse.Namespace, config: Config) -> int:
    resolution = "accept" if args.accept else "reapply"
    async with checked_pool(config) as pool:
        async with pool.acquire() as conn:
            store_id, external_id = await drift_db.resolve(conn, args.id, resolution, args.by)
        print(f"drift {args.id} ({store_id} {external_id}): {'accepted' if args.accept else 'reapplied'}")
        if resolution == "reapply":
            async with engine_for(config, pool) as engine:
                report = await engine.run_pass(store_id, trigger=REAPPLY, only=[external_id])
            print(format_report(report, "table"))
            return 0 if report.outcome == "ok" else 1
    return 0
