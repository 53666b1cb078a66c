"""WooCommerce end to end: a real daemon, the WooCommerce fake, a full pass, an event write and webhook drift."""

from __future__ import annotations

import json
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import after_first_periodic_pass, eventually, free_port, running_daemon
from tests.reconcilers.fakes.woocommerce_fake import FakeItem, WooCommerceFake

KEY, CS, HOOK = "ck_e2e", "cs_e2e", "e2e-webhook-secret"
CATALOG = """
INSERT INTO facilities VALUES ('eu1', 'DE', '');
INSERT INTO regions VALUES ('europe');
INSERT INTO region_facilities VALUES ('europe', 'eu1');
INSERT INTO variants VALUES ('v1', 'V1', 'pod'), ('v2', 'V2', 'pod'), ('v3', 'V3', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('v1', 'eu1', 'in_stock'), ('v2', 'eu1', 'in_stock'), ('v3', 'eu1', 'in_stock');
"""
EXTERNAL = {"v1": "11", "v2": "20:21", "v3": "20:22"}  # a simple product and two variations


async def test_woocommerce_full_pass_event_write_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = WooCommerceFake(consumer_key=KEY, consumer_secret=CS, webhook_secret=HOOK)
    base_url = await fake.start()
    port = free_port()
    fake.add(FakeItem(11, stock_status="outofstock"))  # upstream has it → written back to sellable
    fake.add(FakeItem(20))
    fake.add(FakeItem(21, parent_id=20))  # in line
    fake.add(FakeItem(22, parent_id=20))  # an event will sell it out
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "woo-keys").write_text(
        json.dumps({"consumer_key": KEY, "consumer_secret": CS, "webhook_secret": HOOK})
    )
    await pool.execute(CATALOG)
    await pool.execute(
        "INSERT INTO stores (id, platform, region_id, credential, settings) VALUES"
        " ('woo', 'woocommerce', 'europe', 'woo-keys', $1)",
        {"base_url": base_url},
    )
    await pool.execute("INSERT INTO store_schedule (store_id) VALUES ('woo')")
    for variant, external in EXTERNAL.items():
        await pool.execute(
            "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ('woo', $1, $2)",
            external,
            variant,
        )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.items[11].stock_status == "instock" and fake.items[21].stock_status == "instock"

            assert await daemon.post_sold_out("v3", "eu1") == 202
            assert await eventually(lambda: _status_is(fake, 22, "outofstock"), 20)

            url = f"http://127.0.0.1:{port}/v1/stores/woo/webhook"
            assert await fake.send_ping(url) == 200  # webhook creation ping
            fake.items[21].stock_status = "outofstock"  # the merchant hides a variation upstream still has
            assert await fake.send_product_updated(url, 21) == 200
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                "20:21",
                "webhook",
                "open",
            )
            assert fake.stats.throttled == 0 and fake.stats.unauthorized == 0
    finally:
        await fake.stop()


async def _status_is(fake: WooCommerceFake, item: int, status: str) -> bool:
    return fake.items[item].stock_status == status
