"""Storenvy end to end: a real daemon, the Storenvy fake, a full pass, an event write, the echo of our
own write (an unsigned notification naming the product: the re-read finds what we applied) and a
merchant's edit found as drift by the re-read such a notification asks for."""

from __future__ import annotations

import json
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
from tests.reconcilers.fakes.storenvy_fake import StorenvyFake

API_KEY = "storenvy-e2e-api-key"
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'DE', 'warehouse');
INSERT INTO regions VALUES ('europe');
INSERT INTO region_facilities VALUES ('europe', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def test_storenvy_full_pass_event_write_echo_and_webhook_drift(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = StorenvyFake(API_KEY)
    base_url = await fake.start()
    port = free_port()
    webhook_url = f"http://127.0.0.1:{port}/v1/stores/shop/webhook"
    fake.seed("101:501", 0)  # A sold out in the store although upstream has it
    fake.seed("101:502", 5)  # B: another variant of the same product
    fake.seed("103:801", None, in_stock=True)  # C sells without a count
    credentials = credentials_dir(tmp_path, "shop-key", {"api_key": API_KEY})
    await pool.execute(CATALOG)
    settings = {"base_url": base_url, "in_stock_quantity": 30}
    mappings = {"101:501": "a", "101:502": "b", "103:801": "c"}
    await register_store(pool, "shop", "storenvy", "europe", "shop-key", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert _shown(fake, "101:501") == (30, True)  # written back to sellable (status mode)
            assert _shown(fake, "103:801") == (None, True)  # the uncounted variant stays uncounted

            assert await daemon.post_sold_out("b", "wh1") == 202
            assert await eventually(lambda: _async(_shown(fake, "101:502") == (0, False)), 20)

            async with aiohttp.ClientSession() as session:
                # the store's news of our own write: unsigned, it only names product 101 to re-read
                headers, body = fake.event(101)
                async with session.post(webhook_url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _webhook_passes(pool, 1), 20)
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

                # a body's values are never trusted: it claims a count the store does not show
                forged = json.dumps(
                    {"data": {"id": 101, "variants": [{"product_id": 101, "full_quantity": 0}]}}
                )
                async with session.post(webhook_url, data=forged, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _webhook_passes(pool, 2), 20)
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0

                fake.seed("101:501", 0, in_stock=False)  # the merchant sells A out in the admin
                async with session.post(webhook_url, data=body, headers=headers) as answer:
                    assert answer.status == 200
            drift = await eventually(
                lambda: pool.fetchrow(
                    "SELECT external_id, status FROM drift_records WHERE external_id = '101:501'"
                ),
                20,
            )
            assert drift is not None and drift["external_id"] == "101:501"
            assert (
                await pool.fetchval("SELECT count(*) FROM drift_records WHERE external_id <> '101:501'") == 0
            )
    finally:
        await fake.stop()


def _shown(fake: StorenvyFake, external_id: str) -> tuple[int | float | None, bool]:
    item = fake.variant(external_id)
    assert item is not None
    return item.full_quantity, item.in_stock


async def _async(value: bool) -> bool:
    return value


async def _webhook_passes(pool: Pool, count: int) -> bool:
    done = await pool.fetchval("SELECT count(*) FROM sync_runs WHERE trigger = 'webhook' AND outcome = 'ok'")
    return int(done) >= count
