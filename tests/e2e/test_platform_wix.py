"""Wix end to end: a real daemon, the Wix fake, a full pass, an event write, our echo, webhook drift."""

from __future__ import annotations

from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    free_port,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.wix_fake import WixFake

KEY, SITE = "wix-e2e-api-key", "site-e2e"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1');
INSERT INTO variants VALUES ('v1', 'V1', 'pod'), ('v2', 'V2', 'pod'), ('v3', 'V3', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('v1', 'us1', 'in_stock'), ('v2', 'us1', 'in_stock'), ('v3', 'us1', 'in_stock');
"""


async def test_wix_full_pass_event_write_echo_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = WixFake(KEY, site_id=SITE)
    base_url = await fake.start()
    port = free_port()
    fake.callback_url = f"http://127.0.0.1:{port}/v1/stores/wix/webhook"
    sold_out = fake.add_item("var-1", quantity=0)  # upstream has it: written back to sellable
    flag = fake.add_item("var-2", in_stock=True)  # in line (in-stock tracking, no count)
    counted = fake.add_item("var-3", quantity=5)  # an event will sell it out
    credentials = credentials_dir(tmp_path, "wix-key", {"api_key": KEY, "public_key": fake.public_pem})
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "site_id": SITE,
        "location_id": "loc-1",
        "app_id": fake.app_id,
        "instance_id": fake.instance_id,
        "in_stock_quantity": 25,
    }
    mappings = {f"var-{n}": f"v{n}" for n in (1, 2, 3)}
    await register_store(pool, "wix", "wix", "north_america", "wix-key", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.items[sold_out]["quantity"] == 25 and fake.items[flag]["inStock"] is True
            assert fake.items[counted]["quantity"] == 5

            assert await daemon.post_sold_out("v3", "us1") == 202
            assert await eventually(lambda: _quantity_is(fake, counted, 0), 20)

            # both writes came back as our own app's deliveries: taken, and no drift
            assert await eventually(lambda: _delivered(pool, fake, 2), 20)
            assert fake.delivery_statuses == [200, 200]
            assert [a["matched"] for a in fake.delivery_answers] == [0, 0]  # echoes name no item
            assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

            await fake.manual_edit(flag, in_stock=False)  # the merchant hides a variant upstream has
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                "var-2",
                "webhook",
                "open",
            )
            edit = fake.delivery_answers[-1]
            assert (edit["matched"], edit["drift_opened"]) == (1, 1)
            assert fake.stats.throttled_429 == 0
    finally:
        await fake.stop()


async def _quantity_is(fake: WixFake, item: str, quantity: int) -> bool:
    return fake.items[item].get("quantity") == quantity


async def _delivered(pool: Pool, fake: WixFake, count: int) -> bool:
    taken = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE store_id = 'wix'")
    return len(fake.delivery_statuses) >= count and taken >= count
