"""TikTok Shop end to end: a real daemon, the TikTok fake, a full pass, an event write, the echo of our
own write (not drift) and a merchant's edit found by reading the notified product back."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from daemon.db.pool import Pool
from tests.e2e.daemon_process import after_first_periodic_pass, eventually, register_store, running_daemon
from tests.reconcilers.fakes.tiktok_fake import FakeSku, TiktokFake

APP_KEY, APP_SECRET, TOKEN = "tiktok-e2e-app-key", "tiktok-e2e-app-secret", "TTP_e2e_access"
PRODUCT_A, PRODUCT_BC = "1729592969712207001", "1729592969712207002"
SKU_A, SKU_B, SKU_C = "1729388324987897801", "1729388324987897802", "1729388324987897803"
WAREHOUSE = "7068517275539719942"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', 'Dallas');
INSERT INTO regions VALUES ('usa');
INSERT INTO region_facilities VALUES ('usa', 'us1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'us1', 'in_stock'), ('b', 'us1', 'in_stock'), ('c', 'us1', 'in_stock');
"""


async def test_tiktok_full_pass_event_write_echo_and_edit(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    fake = TiktokFake(APP_KEY, APP_SECRET, TOKEN)
    base_url = await fake.start()
    fake.add(FakeSku(SKU_A, PRODUCT_A, {WAREHOUSE: 0}))  # A shows sold out although upstream has it
    fake.add(FakeSku(SKU_B, PRODUCT_BC, {WAREHOUSE: 5}))
    fake.add(FakeSku(SKU_C, PRODUCT_BC, {WAREHOUSE: 5}))
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    fields = {
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "access_token": TOKEN,
        "refresh_token": fake.refresh,
        "shop_cipher": fake.shop_cipher,
    }
    (credentials / "shop-token").write_text(json.dumps(fields))
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "auth_url": base_url, "warehouse_id": WAREHOUSE}
    mapping = {f"{PRODUCT_A}:{SKU_A}": "a", f"{PRODUCT_BC}:{SKU_B}": "b", f"{PRODUCT_BC}:{SKU_C}": "c"}
    await register_store(pool, "shop", "tiktok", "usa", "shop-token", settings, mapping)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.skus[SKU_A].stock == {WAREHOUSE: 100}  # status mode: the store's POD quantity

            assert await daemon.post_sold_out("c", "us1") == 202
            assert await eventually(lambda: _stock_is(fake, SKU_C, 0), 20)

            async with aiohttp.ClientSession() as session:
                url = f"{daemon.url}/v1/stores/shop/webhook"
                for body in list(fake.webhooks):  # the store's notification for each of our writes
                    async with session.post(url, data=body, headers=fake.signed(body)) as answer:
                        assert answer.status == 200
                searches = fake.stats.searches
                assert await eventually(lambda: _read_back(fake, searches), 20)  # each echo was read back
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0  # echoes are not drift

                fake.skus[SKU_C].stock = {WAREHOUSE: 5}  # the merchant makes C sellable again: an oversell
                headers, body = fake.webhook(PRODUCT_BC, SKU_C)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _stock_is(fake, SKU_C, 0), 20)  # protect: put back at once

                fake.skus[SKU_B].stock = {WAREHOUSE: 0}  # the merchant marks B sold out: safe, held
                headers, body = fake.webhook(PRODUCT_BC, SKU_B)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
            held = await eventually(
                lambda: pool.fetchrow(
                    "SELECT action FROM drift_records WHERE external_id = $1", f"{PRODUCT_BC}:{SKU_B}"
                ),
                20,
            )
            assert held is not None and held["action"] == "held" and fake.skus[SKU_B].stock == {WAREHOUSE: 0}
            put_back = await pool.fetchrow(
                "SELECT action FROM drift_records WHERE external_id = $1", f"{PRODUCT_BC}:{SKU_C}"
            )
            assert put_back is not None and put_back["action"] == "overwritten"
    finally:
        await fake.stop()


async def _stock_is(fake: TiktokFake, sku_id: str, quantity: int) -> bool:
    return fake.skus[sku_id].stock == {WAREHOUSE: quantity}


async def _read_back(fake: TiktokFake, searches_before: int) -> bool:
    return fake.stats.searches > searches_before
