"""Square end to end: a real daemon, the Square fake, a full pass, an event write, webhook drift, and the
echoes of our own writes (Square notifies every count change, ours included) never taken for drift."""

from __future__ import annotations

from pathlib import Path

from daemon.db.pool import Pool
from reconcilers.square import API_VERSION
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    free_port,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.square_fake import SquareFake

TOKEN, KEY, LOCATION = "EAAA-e2e-square-token", "e2e-square-signature-key", "LE2E"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'us1', 'in_stock'), ('b', 'us1', 'in_stock'), ('c', 'us1', 'in_stock');
"""


async def test_square_full_pass_event_write_webhook_drift_and_echoes(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = SquareFake(TOKEN, KEY, LOCATION)
    base_url = await fake.start()
    port = free_port()
    fake.webhook_url = f"http://127.0.0.1:{port}/v1/stores/sq/webhook"  # the subscription's URL
    fake.add("VAR_A", "0")  # sold out although upstream has it: written back to sellable
    fake.add("VAR_B", "5")  # in line
    fake.add("VAR_C", "5")  # an event will sell it out
    credentials = credentials_dir(tmp_path, "sq-token", {"access_token": TOKEN, "signature_key": KEY})
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "location_id": LOCATION,
        "notification_url": fake.webhook_url,
        "in_stock_quantity": 25,
    }
    mappings = {f"VAR_{ref}": ref.lower() for ref in ("A", "B", "C")}
    await register_store(pool, "sq", "square", "north_america", "sq-token", settings, mappings)
    try:
        async with running_daemon(db_dsn, tmp_path, credentials, port=port) as daemon:
            await after_first_periodic_pass(pool)
            assert (fake.counts["VAR_A"], fake.counts["VAR_B"]) == ("25", "5")

            assert await daemon.post_sold_out("c", "us1") == 202
            assert await eventually(lambda: _count_is(fake, "VAR_C", "0"), 20)

            await fake.manual_count("VAR_B", "0")  # the seller hides a variation upstream still has
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via, status FROM drift_records"), 20
            )
            assert drift is not None
            assert (drift["external_id"], drift["detected_via"], drift["status"]) == (
                "VAR_B",
                "webhook",
                "open",
            )
            # Square notified our own two writes before answering them: echoes, never drift (the third,
            # the seller's, is counted once the daemon has answered it, just after the drift row exists)
            assert await eventually(lambda: _sent(fake, 3), 20)
            assert await pool.fetchval("SELECT count(*) FROM drift_records") == 1
            assert fake.stats.throttled == 0 and fake.versions == {API_VERSION}
    finally:
        await fake.stop()


async def _count_is(fake: SquareFake, object_id: str, quantity: str) -> bool:
    return fake.counts.get(object_id) == quantity


async def _sent(fake: SquareFake, webhooks: int) -> bool:
    return fake.stats.webhooks_sent == webhooks
