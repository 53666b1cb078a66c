"""Ecwid end to end: a real daemon, the Ecwid fake, a full pass, an event write, the echo of our own
write (a product.updated that re-reads the store and finds what we applied) and a merchant's edit
found as drift by the re-read a product.updated asks for."""

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
from tests.reconcilers.fakes.ecwid_fake import EcwidFake

TOKEN, SECRET = "secret_e2e-token", "ecwid-e2e-client-secret"
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'DE', 'warehouse');
INSERT INTO regions VALUES ('europe');
INSERT INTO region_facilities VALUES ('europe', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def test_ecwid_full_pass_event_write_echo_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = EcwidFake(TOKEN, SECRET, "1003")
    base_url = await fake.start()
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/v1/stores/shop/webhook"
    fake.seed("101", 0)  # A sold out in the store although upstream has it
    fake.seed("500:501", 5)  # B: a variation
    fake.seed("103", unlimited=True)  # C sells without a count
    credentials = credentials_dir(tmp_path, "shop-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "store_id": "1003", "in_stock_quantity": 30}
    mappings = {"101": "a", "500:501": "b", "103": "c"}
    await register_store(pool, "shop", "ecwid", "europe", "shop-token", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert _shown(fake, "101") == (30, False)  # written back to sellable (status mode)
            assert _shown(fake, "103") == (0, True)  # the unlimited item stays unlimited

            assert await daemon.post_sold_out("b", "wh1") == 202
            assert await eventually(lambda: _async(_shown(fake, "500:501") == (0, False)), 20)

            async with aiohttp.ClientSession() as session:
                # Ecwid reports our own write back as product.updated: the re-read finds what we applied
                headers, body = fake.event(500)
                async with session.post(fake.webhook_url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _webhook_passes(pool, 1), 20)
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

                await fake.merchant_edit(session, "101", 0)  # the merchant sells A out in the admin
            drift = await eventually(
                lambda: pool.fetchrow(
                    "SELECT external_id, status FROM drift_records WHERE external_id = '101'"
                ),
                20,
            )
            assert drift is not None and drift["external_id"] == "101"
            assert await pool.fetchval("SELECT count(*) FROM drift_records WHERE external_id <> '101'") == 0
    finally:
        await fake.stop()


def _shown(fake: EcwidFake, external_id: str) -> tuple[int | float, bool]:
    item = fake.item(external_id)
    assert item is not None
    return (0 if item.unlimited else item.quantity), item.unlimited


async def _async(value: bool) -> bool:
    return value


async def _webhook_passes(pool: Pool, count: int) -> bool:
    done = await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'webhook' AND outcome = 'ok'")
    return int(done) >= count
