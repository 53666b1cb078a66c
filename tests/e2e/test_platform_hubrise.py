"""HubRise end to end: a real daemon, the HubRise fake, a full pass, an event write and callback drift."""

from __future__ import annotations

from pathlib import Path

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
from tests.reconcilers.fakes.hubrise_fake import HubRiseFake

TOKEN, SECRET = "hubrise-e2e-token", "hubrise-e2e-secret"
CATALOG = """
INSERT INTO facilities VALUES ('pos1', 'FR', 'restaurant');
INSERT INTO regions VALUES ('restaurant');
INSERT INTO region_facilities VALUES ('restaurant', 'pos1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'pos1', 'in_stock'), ('b', 'pos1', 'in_stock'), ('c', 'pos1', 'in_stock');
"""


async def test_hubrise_full_pass_event_write_and_callback_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = HubRiseFake(TOKEN, SECRET, "cat1", "loc-1")
    base_url = await fake.start()
    port = free_port()
    fake.callback_url = f"http://127.0.0.1:{port}/v1/stores/pos/webhook"
    fake.inventory = {("sku_ref", "A"): "0"}  # A shows out of stock although upstream has it; B, C unlimited
    credentials = credentials_dir(tmp_path, "pos-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "catalog_id": "cat1", "location_id": "loc-1"}
    await register_store(
        pool,
        "pos",
        "hubrise",
        "restaurant",
        "pos-token",
        settings,
        {f"sku:{ref}": ref.lower() for ref in ("A", "B", "C")},
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert ("sku_ref", "A") not in fake.inventory  # entry removed: unlimited, i.e. available

            assert await daemon.post_sold_out("c", "pos1") == 202
            assert await eventually(lambda: _stock_is(fake, "C", "0"), 20)

            async with aiohttp.ClientSession() as session:  # the POS marks B out of stock by itself
                await fake.manual_patch(session, [{"sku_ref": "B", "stock": "0"}])
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                "sku:B",
                "webhook",
                "open",
            )
    finally:
        await fake.stop()


async def _stock_is(fake: HubRiseFake, ref: str, stock: str) -> bool:
    return fake.inventory.get(("sku_ref", ref)) == stock
