"""Etsy end to end: a real daemon, the Etsy fake, a full pass, an event write, our echo (not drift) and a
merchant's edit found through a webhook's re-read."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import aiohttp

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    eventually,
    free_port,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.etsy_fake import EtsyFake

SHOP, TOKEN = 5550001, "etsy-e2e-token"
SIGNING = "whsec_" + base64.b64encode(b"etsy-e2e-signing-key").decode()
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'US', 'warehouse');
INSERT INTO regions VALUES ('usa');
INSERT INTO region_facilities VALUES ('usa', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def test_etsy_full_pass_event_write_echo_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = EtsyFake("ks-e2e", "shared-e2e", TOKEN, SHOP, SIGNING)
    base_url = await fake.start()
    fake.seed(1001, [("A", 1)], state="inactive")  # upstream has A: the pass must put it back on sale
    fake.seed(1002, [("B", 100)])
    fake.seed(1003, [("C", 100)])
    port = free_port()
    hook_url = f"http://127.0.0.1:{port}/v1/stores/shop/webhook"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    fields = {
        "keystring": "ks-e2e",
        "shared_secret": "shared-e2e",
        "access_token": TOKEN,
        "webhook_secret": SIGNING,
    }
    (credentials / "etsy-shop").write_text(json.dumps(fields))
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "token_url": fake.token_url,
        "shop_id": SHOP,
        "requests_per_second": 100,
    }
    mappings = {"1001:A": "a", "1002:B": "b", "1003:C": "c"}
    await register_store(pool, "shop", "etsy", "usa", "etsy-shop", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.listings[1001].state == "active" and fake.quantity(1001, "A") == 100  # pod quantity

            assert await daemon.post_sold_out("c", "wh1") == 202
            assert await eventually(lambda: _state_is(fake, 1003, "inactive"), 20)  # its only product: 0

            async with aiohttp.ClientSession() as session:
                passes = await _webhook_passes(pool)
                await fake.notify(session, hook_url, "listing.updated", 1003)  # the echo of our write
                assert await eventually(lambda: _more_webhook_passes(pool, passes), 20)
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

                fake.set_quantity(1002, "B", 0)  # the merchant empties B; Etsy marks it sold out
                fake.listings[1002].state = "sold_out"
                await fake.notify(session, hook_url, "inventory.out_of_stock", 1002)
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, status FROM drift_records"), 20
            )
            assert drift is not None and drift["external_id"] == "1002:B"
    finally:
        await fake.stop()


async def _state_is(fake: EtsyFake, listing_id: int, state: str) -> bool:
    return fake.listings[listing_id].state == state


async def _webhook_passes(pool: Pool) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'webhook' AND outcome = 'ok'")
    )


async def _more_webhook_passes(pool: Pool, before: int) -> bool:
    return await _webhook_passes(pool) > before
