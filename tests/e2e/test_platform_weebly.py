"""Weebly end to end: a real daemon, the Weebly fake, a full pass, an event write, the echo of our own
write (a store.product.update that re-reads the product and finds what we applied) and a merchant's
edit found as drift by the re-read a store.product.update asks for."""

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
from tests.reconcilers.fakes.weebly_fake import WeeblyFake

TOKEN, SECRET, SITE = "weebly-e2e-token", "weebly-e2e-app-secret", "987654321"
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'DE', 'warehouse');
INSERT INTO regions VALUES ('europe');
INSERT INTO region_facilities VALUES ('europe', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def test_weebly_full_pass_event_write_echo_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = WeeblyFake(TOKEN, SECRET, SITE)
    base_url = await fake.start()
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/v1/stores/shop/webhook"
    fake.seed("32:1", 0)  # A sold out in the store although upstream has it
    fake.seed("32:2", 5)  # B: another SKU of the same product
    fake.seed("68:1", None)  # C is not tracked: it sells without a count
    credentials = credentials_dir(tmp_path, "shop-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "site_id": SITE, "in_stock_quantity": 30}
    mappings = {"32:1": "a", "32:2": "b", "68:1": "c"}
    await register_store(pool, "shop", "weebly", "europe", "shop-token", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert _shown(fake, "32:1") == 30  # written back to sellable (status mode)
            assert _shown(fake, "68:1") is None  # the untracked SKU stays untracked
            assert fake.stats.puts == 0  # only partial updates, never a replacing PUT

            assert await daemon.post_sold_out("b", "wh1") == 202
            assert await eventually(lambda: _async(_shown(fake, "32:2") == 0), 20)

            async with aiohttp.ClientSession() as session:
                # Weebly reports our own write back as store.product.update: the re-read finds it
                headers, body = fake.event("32")
                async with session.post(fake.webhook_url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _webhook_passes(pool, 1), 20)
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

                await fake.merchant_edit(session, "32:1", 0)  # the merchant sells A out in the editor
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id FROM drift_records WHERE external_id = '32:1'"),
                20,
            )
            assert drift is not None and drift["external_id"] == "32:1"
            assert await pool.fetchval("SELECT count(*) FROM drift_records WHERE external_id <> '32:1'") == 0
    finally:
        await fake.stop()


def _shown(fake: WeeblyFake, external_id: str) -> int | None:
    sku = fake.sku(external_id)
    assert sku is not None
    return sku.inventory


async def _async(value: bool) -> bool:
    return value


async def _webhook_passes(pool: Pool, count: int) -> bool:
    done = await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'webhook' AND outcome = 'ok'")
    return int(done) >= count
