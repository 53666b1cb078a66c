"""BigCommerce end to end: a real daemon and the BigCommerce fake: a full pass, an event write, webhook
drift (the stock_changed body names the item; the daemon re-reads it), and our own writes coming back
by webhook are not drift."""

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
from tests.reconcilers.fakes.bigcommerce_fake import BigCommerceFake

TOKEN, SECRET = "bc-e2e-token", "bc-e2e-client-secret"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1');
INSERT INTO variants VALUES ('v1', 'V1', 'pod'), ('v2', 'V2', 'pod'), ('v3', 'V3', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('v1', 'us1', 'in_stock'), ('v2', 'us1', 'in_stock'), ('v3', 'us1', 'in_stock');
"""
WEBHOOK_PASSES = "SELECT count(*) FROM sync_runs WHERE trigger = 'webhook' AND outcome = 'ok'"


async def test_bigcommerce_full_pass_event_write_webhook_drift_and_echoes(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = BigCommerceFake(TOKEN, SECRET, "e2e")
    await fake.start()
    port = free_port()
    fake.callback_url = f"http://127.0.0.1:{port}/v1/stores/bc/webhook"
    fake.add_product(1, "variant")
    fake.set_level(1, 100, 0)  # shows sold out; upstream has it → written back to sellable
    fake.add_product(2, "variant")
    fake.set_level(2, 200, 5)  # in line
    fake.add_product(3, "product")
    fake.set_level(3, None, 5)  # tracked by product; an event will sell it out
    credentials = credentials_dir(tmp_path, "bc-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {"store_hash": "e2e", "base_url": fake.base_url, "in_stock_quantity": 25}
    await register_store(
        pool,
        "bc",
        "bigcommerce",
        "north_america",
        "bc-token",
        settings,
        {"1:100": "v1", "2:200": "v2", "3": "v3"},
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert _on_hand(fake, 1, 100) == 25 and _on_hand(fake, 2, 200) == 5
            # our write came back as stock_changed: the named item was re-read and found as applied
            assert await eventually(lambda: pool.fetchval(WEBHOOK_PASSES), 20)

            assert await daemon.post_sold_out("v3", "us1") == 202
            assert await eventually(lambda: _stock_is(fake, 3, None, 0), 20)
            assert await eventually(lambda: _webhook_passes_at_least(pool, 2), 20)  # that echo, re-read
            assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0  # echoes are not drift

            fake.manual_adjust(2, 200, 0)  # the merchant hides a variant upstream still has
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            # found by the re-read the notification queued (a pass), kept open for support (protect)
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == ("2:200", "pass", "open")
            assert _on_hand(fake, 2, 200) == 0
            assert fake.stats.throttled == 0
    finally:
        await fake.stop()


def _on_hand(fake: BigCommerceFake, product: int, variant: int | None) -> int | None:
    level = fake.level(product, variant)
    return None if level is None else level.on_hand


async def _stock_is(fake: BigCommerceFake, product: int, variant: int | None, on_hand: int) -> bool:
    return _on_hand(fake, product, variant) == on_hand


async def _webhook_passes_at_least(pool: Pool, count: int) -> bool:
    return int(await pool.fetchval(WEBHOOK_PASSES)) >= count
