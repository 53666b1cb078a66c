"""`make demo`: the whole product in under a minute, on this machine only, leaving nothing running.

Starts an embedded PostgreSQL under .demo/ and one sandbox store per demo store, imports the sample
catalog in examples/catalog/, runs a full pass per store, then an upstream out-of-stock change and a
merchant's manual edits, and prints what was written, skipped and flagged, and the drift report.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp

from daemon.config import Config, DatabaseConfig, RetriesConfig
from daemon.db import drift as drift_db
from daemon.db import migrate
from daemon.db.catalog import import_rows
from daemon.db.pool import Pool, open_pool
from daemon.drift_listing import DRIFT_COLUMNS, DriftFilter, drift_rows
from daemon.engine import Engine, PassReport
from daemon.importer import read_rows
from daemon.logs import configure_logging
from daemon.output import render
from daemon.resources import credential_store
from daemon.sync_commands import format_report
from reconcilers import ReconcilerFactory
from sandbox_store.server import SandboxStore
from sandbox_store.state import SandboxConfig

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "examples" / "catalog"
WORK = ROOT / ".demo"
TOKEN = "demo-sandbox-token"

# store id → (region, drift policy, mode, safety buffer), and what its items show before stocksync
STORES = {
    "us-shop": ("north_america", "protect", "status", 0),
    "eu-shop": ("europe", "overwrite", "quantity", 2),
    "world-shop": ("worldwide", "report", "status", 0),
}
STALE_ITEMS = {"WW-3004": (False, None)}  # world-shop shows the poster as sold out: stale


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(f"== {text}")


async def main() -> int:
    started = time.monotonic()
    configure_logging("warning", "console", stream=sys.stderr)
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "credentials").mkdir(parents=True)
    config = Config(
        database=DatabaseConfig(data_dir=str(WORK / "pgdata"), pool_max=4),
        retries=RetriesConfig(in_pass_backoff_s=0.05),
    )
    config = replace(config, credentials=replace(config.credentials, directory=str(WORK / "credentials")))
    sandboxes: dict[str, SandboxStore] = {}
    try:
        async with open_pool(config.database) as pool:
            async with pool.acquire() as conn:
                await migrate.migrate(conn)
            say(f"embedded PostgreSQL ready, schema migrated ({WORK / 'pgdata'})")
            for store_id in STORES:
                sandboxes[store_id] = SandboxStore(SandboxConfig(token=TOKEN, batch_limit=5))
            urls = {store_id: await sandbox.start() for store_id, sandbox in sandboxes.items()}
            say("sandbox stores: " + ", ".join(f"{s} {u}" for s, u in urls.items()))
            await import_catalog(pool, urls)
            await seed_stores(urls)
            async with aiohttp.ClientSession() as session:
                engine = Engine(pool, ReconcilerFactory(session), credential_store(config), config)
                await story(pool, engine, sandboxes, urls, session)
    finally:
        for sandbox in sandboxes.values():
            await sandbox.stop()
    heading(f"done in {time.monotonic() - started:.1f} s; embedded server and sandbox stores stopped")
    return 0


async def import_catalog(pool: Pool, urls: dict[str, str]) -> None:
    stores_file = WORK / "stores.csv"
    with stores_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "platform", "region", "drift_policy", "mode", "safety_buffer", "credential", "settings"]
        )
        for store_id, (region, policy, mode, buffer) in STORES.items():
            writer.writerow(
                [
                    store_id,
                    "sandbox",
                    region,
                    policy,
                    mode,
                    buffer,
                    f"{store_id}-token",
                    json.dumps({"base_url": urls[store_id], "batch_limit": 5}),
                ]
            )
            (WORK / "credentials" / f"{store_id}-token").write_text(json.dumps({"token": TOKEN}))
    heading("import the sample catalog (examples/catalog/)")
    files = [
        ("facilities", CATALOG / "facilities.csv"),
        ("regions", CATALOG / "regions.csv"),
        ("variants", CATALOG / "variants.csv"),
        ("stock", CATALOG / "stock.csv"),
        ("stores", stores_file),
        ("mappings", CATALOG / "mappings.csv"),
    ]
    for kind, path in files:
        rows = read_rows(kind, path)
        async with pool.acquire() as conn, conn.transaction():
            counts = await import_rows(conn, kind, rows, source=path.name)
        say("  " + counts.summary(path.name))


async def seed_stores(urls: dict[str, str]) -> None:
    """Every store starts out showing everything available (10 each): a store before stocksync."""
    items: dict[str, list[dict[str, object]]] = {store_id: [] for store_id in urls}
    for row in read_rows("mappings", CATALOG / "mappings.csv"):
        external_id = row.values["external_id"]
        available, quantity = STALE_ITEMS.get(external_id, (True, 10))
        items[row.values["store_id"]].append(
            {"external_id": external_id, "available": available, "quantity": quantity}
        )
    async with aiohttp.ClientSession() as session:
        for store_id, store_items in items.items():
            await control(session, urls[store_id], "POST", "/control/items", {"items": store_items})


async def control(
    session: aiohttp.ClientSession, base_url: str, method: str, path: str, body: object
) -> None:
    async with session.request(
        method, base_url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as answer:
        answer.raise_for_status()


async def passes(engine: Engine, title: str) -> list[PassReport]:
    heading(title)
    reports = []
    for store_id in STORES:
        report = await engine.run_pass(store_id, trigger="manual")
        say(format_report(report, "table"))
        reports.append(report)
    return reports


async def story(
    pool: Pool,
    engine: Engine,
    sandboxes: dict[str, SandboxStore],
    urls: dict[str, str],
    session: aiohttp.ClientSession,
) -> None:
    heading("dry run for us-shop (writes nothing)")
    say(format_report(await engine.run_pass("us-shop", dry_run=True), "table"))
    await passes(engine, "first full pass per store")
    say()
    say("the fulfiller's help-page rules, as the stores now show them:")
    show = {s: sandbox.items for s, sandbox in sandboxes.items()}
    say(
        f"  HOODIE-GRY-L out in US, CA, MX      → us-shop US-1002 available={show['us-shop']['US-1002'].available}"
    )
    say(
        f"  CAP-RED out only in Europe          → us-shop US-1003 available={show['us-shop']['US-1003'].available}"
        f", eu-shop EU-2003 quantity={show['eu-shop']['EU-2003'].quantity}"
    )
    say(
        f"  POSTER-A2 only in Latvia (worldwide) → world-shop WW-3004 available={show['world-shop']['WW-3004'].available}"
    )
    say(
        "  TOTE-NAT only in Australia           → us-shop US-1006 left as is (no upstream data for its region)"
    )

    heading("upstream: TEE-BLK-M goes out of stock in US, CA and MX; a merchant edits three stores by hand")
    update = WORK / "stock-update.csv"
    update.write_text(
        "variant_id,facility_id,status,quantity\n"
        "tee-blk-m,us-nc,out_of_stock,\ntee-blk-m,ca-on,out_of_stock,\ntee-blk-m,mx-ti,out_of_stock,\n"
    )
    async with pool.acquire() as conn, conn.transaction():
        say(
            "  "
            + (await import_rows(conn, "stock", read_rows("stock", update), source=update.name)).summary(
                update.name
            )
        )
    edits = [
        ("us-shop", "US-1002", True, None, "makes a sold-out hoodie sellable (protect: put back)"),
        ("eu-shop", "EU-2007", True, 50, "raises SOCKS-WH to 50 (overwrite: put back)"),
        ("world-shop", "WW-3003", False, None, "hides CAP-RED although upstream has it (report: held)"),
    ]
    for store_id, external_id, available, quantity, what in edits:
        await control(
            session,
            urls[store_id],
            "POST",
            "/control/edit",
            {"external_id": external_id, "available": available, "quantity": quantity},
        )
        say(f"  manual edit in {store_id}: {external_id} {what}")
    await passes(engine, "second full pass per store")
    await passes(engine, "third pass: nothing left to write")

    heading("drift report for support staff (stocksync drift report --status all)")
    records = [r async for page in drift_db.each_drift_page(pool, DriftFilter(status="all")) for r in page]
    say(render(drift_rows(records), "table", DRIFT_COLUMNS))

    heading("a bad feed: every European facility reports out of stock → the guard holds eu-shop")
    bad = WORK / "bad-feed.csv"
    rows = ["variant_id,facility_id,status,quantity"]
    rows += [
        f"{v},{f},out_of_stock,{q}"
        for v, f, q in (
            ("tee-blk-m", "lv-ri", ""),
            ("hoodie-gry-l", "lv-ri", ""),
            ("hoodie-gry-l", "es-ba", ""),
            ("poster-a2", "lv-ri", ""),
            ("mug-11oz", "gb-le", ""),
            ("socks-wh", "lv-ri", "0"),
            ("socks-wh", "gb-le", "0"),
        )
    ]
    bad.write_text("\n".join(rows) + "\n")
    async with pool.acquire() as conn, conn.transaction():
        await import_rows(conn, "stock", read_rows("stock", bad), source=bad.name)
    before = len(sandboxes["eu-shop"].write_log)
    say(format_report(await engine.run_pass("eu-shop", trigger="manual"), "table"))
    say(f"  writes to eu-shop during the held pass: {len(sandboxes['eu-shop'].write_log) - before}")
    total = sum(len(s.write_log) for s in sandboxes.values())
    say(f"\nAPI writes to all stores in the demo: {total} item writes")


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
