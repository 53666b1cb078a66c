"""Shopify end to end: a real daemon, the Shopify fake, a full pass, an event write and webhook drift."""

from __future__ import annotations

from pathlib import Path

from daemon.db.pool import Pool
from reconcilers.shopify import API_VERSION
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    free_port,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.shopify_fake import ShopifyFake

TOKEN, SECRET = "shpat_e2e", "e2e-client-secret"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1');
INSERT INTO variants VALUES ('v1', 'V1', 'pod'), ('v2', 'V2', 'pod'), ('v3', 'V3', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('v1', 'us1', 'in_stock'), ('v2', 'us1', 'in_stock'), ('v3', 'us1', 'in_stock');
"""


def gid(number: int) -> str:
    return f"gid://shopify/ProductVariant/{number}"


async def test_shopify_full_pass_event_write_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = ShopifyFake(token=TOKEN, client_secret=SECRET, version=API_VERSION)
    base_url = await fake.start()
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/v1/stores/shop/webhook"
    fake.add_variant(1, 0)  # shows sold out; upstream has it → written back to sellable
    fake.add_variant(2, 5)  # in line
    fake.add_variant(3, 5)  # an event will sell it out
    credentials = credentials_dir(tmp_path, "shop-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "location_id": "gid://shopify/Location/77", "in_stock_quantity": 25}
    await register_store(
        pool,
        "shop",
        "shopify",
        "north_america",
        "shop-token",
        settings,
        {gid(number): f"v{number}" for number in (1, 2, 3)},
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.variants[1].levels[77] == 25 and fake.variants[2].levels[77] == 5

            assert await daemon.post_sold_out("v3", "us1") == 202
            assert await eventually(lambda: _level_is(fake, 3, 0), 20)

            await fake.manual_edit(2, 0)  # the merchant hides a variant upstream still has
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                gid(2),
                "webhook",
                "open",
            )
            assert fake.stats.throttled == 0
    finally:
        await fake.close()


async def _level_is(fake: ShopifyFake, number: int, level: int) -> bool:
    return fake.variants[number].levels.get(77) == level
