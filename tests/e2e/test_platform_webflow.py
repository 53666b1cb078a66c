"""Webflow end to end: a real daemon, the Webflow fake, a full pass, an event write, webhook drift, and
the echo of our own writes (Webflow announces every inventory change, ours too) never taken for drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    free_port,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.webflow_fake import Inventory, WebflowFake

TOKEN, SECRET = "webflow-e2e-site-token", "webflow-e2e-webhook-secret"
COLLECTION = "6377a7c4b7a79608c34a46f7"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1');
INSERT INTO variants VALUES ('v1', 'V1', 'pod'), ('v2', 'V2', 'pod'), ('v3', 'V3', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('v1', 'us1', 'in_stock'), ('v2', 'us1', 'in_stock'), ('v3', 'us1', 'in_stock');
"""


def sku(number: int) -> str:
    return f"{number:024x}"


async def test_webflow_full_pass_event_write_webhook_drift_and_echo(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = WebflowFake(TOKEN, SECRET, COLLECTION)
    base_url = await fake.start()
    fake.rate_limit = 10_000
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/v1/stores/site/webhook"
    fake.notify_api_writes = True  # our own PATCHes come back as ecomm_inventory_changed
    fake.skus[sku(1)] = Inventory("finite", 0)  # sold out although upstream has it: written back
    fake.skus[sku(2)] = Inventory("finite", 5)  # in line
    fake.skus[sku(3)] = Inventory("finite", 5)  # an event will sell it out
    credentials = credentials_dir(tmp_path, "site-token", {"access_token": TOKEN, "webhook_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "sku_collection_id": COLLECTION,
        "requests_per_minute": 6000,
        "in_stock_quantity": 25,
    }
    mappings = {sku(number): f"v{number}" for number in (1, 2, 3)}
    await register_store(pool, "site", "webflow", "north_america", "site-token", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.skus[sku(1)] == Inventory("finite", 25) and fake.skus[sku(2)].quantity == 5
            assert fake.stats.gets == 3 and fake.stats.patches == 1  # one read per SKU, one write

            assert await daemon.post_sold_out("v3", "us1") == 202
            assert await eventually(lambda: _quantity_is(fake, 3, 0), 20)
            # both writes were announced back to the daemon: matched, and no drift opened
            assert await eventually(lambda: _delivered(fake, 2), 20)
            assert [(s, a["matched"], a["drift_opened"]) for s, a in fake.deliveries] == [
                (sku(1), 1, 0),
                (sku(3), 1, 0),
            ]

            async with aiohttp.ClientSession() as session:  # the merchant hides a SKU upstream still has
                await fake.manual_edit(session, sku(2), 0)
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                sku(2),
                "webhook",
                "open",
            )
            assert await pool.fetchval("SELECT count(*) FROM drift_records") == 1  # the echoes opened none
            assert fake.stats.throttled == 0
    finally:
        await fake.stop()


async def _quantity_is(fake: WebflowFake, number: int, quantity: int) -> bool:
    return fake.skus[sku(number)] == Inventory("finite", quantity)


async def _delivered(fake: WebflowFake, count: int) -> Any:
    return len(fake.deliveries) >= count
