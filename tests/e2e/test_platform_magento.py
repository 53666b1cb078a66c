"""Magento end to end: a real daemon, the Magento fake, a full pass, an event write, and a merchant's edit
found by the next full pass (Magento Open Source sends no webhooks)."""

from __future__ import annotations

from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.magento_fake import FakeProduct, MagentoFake

TOKEN = "magento-e2e-integration-token"
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'DE', 'warehouse');
INSERT INTO regions VALUES ('eu');
INSERT INTO region_facilities VALUES ('eu', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def test_magento_full_pass_event_write_and_drift_found_by_a_full_pass(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = MagentoFake(TOKEN, sources=("default", "eu"))
    base_url = await fake.start()
    fake.add(FakeProduct("MG-A"), eu=(0, 0))  # out of stock although upstream has it
    fake.add(FakeProduct("MG-B"), eu=(5, 1))
    fake.add(FakeProduct("MG-C"), eu=(5, 1))
    credentials = credentials_dir(tmp_path, "magento-token", {"access_token": TOKEN})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "source_code": "eu", "requests_per_second": 100}
    mappings = {"MG-A": "a", "MG-B": "b", "MG-C": "c"}
    await register_store(pool, "shop", "magento", "eu", "magento-token", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.item("MG-A", "eu") == {
                "sku": "MG-A",
                "source_code": "eu",
                "quantity": 100,
                "status": 1,
            }
            assert fake.stats.write_sizes == [1]  # only the difference was written

            assert await daemon.post_sold_out("c", "wh1") == 202
            assert await eventually(lambda: _item_is(fake, "MG-C", 0, 0), 20)

            fake.set_item("MG-B", "eu", 0, 0)  # a merchant hides B in the admin; no notification comes
            status, _ = await daemon.admin("POST", "/v1/stores/shop/sync")
            assert status in (200, 202)
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == ("MG-B", "pass", "open")
            # our own writes read back by that pass are not drift
            assert await pool.fetchval("SELECT count(*) FROM drift_records") == 1
            assert fake.item("MG-B", "eu") == {"sku": "MG-B", "source_code": "eu", "quantity": 0, "status": 0}
    finally:
        await fake.stop()


async def _item_is(fake: MagentoFake, sku: str, quantity: int, status: int) -> bool:
    item = fake.item(sku, "eu")
    return item is not None and (item["quantity"], item["status"]) == (quantity, status)
