"""Nuvemshop end to end: a real daemon, the Nuvemshop fake, a full pass, an event write, the echo of
our own write (not drift) and a merchant's edit found by reading the notified product back."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.nuvemshop_fake import FakeVariant, NuvemshopFake

TOKEN, SECRET = "nuvemshop-e2e-token", "nuvemshop-e2e-app-secret"
CATALOG = """
INSERT INTO facilities VALUES ('br1', 'BR', 'São Paulo');
INSERT INTO regions VALUES ('brasil');
INSERT INTO region_facilities VALUES ('brasil', 'br1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'br1', 'in_stock'), ('b', 'br1', 'in_stock'), ('c', 'br1', 'in_stock');
"""


async def test_nuvemshop_full_pass_event_write_echo_and_edit(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    fake = NuvemshopFake(TOKEN, SECRET)
    base_url = await fake.start()
    fake.add(FakeVariant(11, 1, 0))  # A shows sold out although upstream has it
    fake.add(FakeVariant(21, 2, 5))
    fake.add(FakeVariant(31, 3, 5))
    credentials = credentials_dir(tmp_path, "shop-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "store_id": fake.store_id,
        "user_agent": "stocksync e2e (dev@example.invalid)",
    }
    await register_store(
        pool, "shop", "nuvemshop", "brasil", "shop-token", settings, {"1:11": "a", "2:21": "b", "3:31": "c"}
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.variant(11).stock == 100  # status mode: the store's POD quantity makes it sellable

            assert await daemon.post_sold_out("c", "br1") == 202
            assert await eventually(lambda: _stock_is(fake, 31, 0), 20)

            async with aiohttp.ClientSession() as session:
                url = f"{daemon.url}/v1/stores/shop/webhook"
                for body in list(fake.webhooks):  # the store's product/updated for each of our writes
                    headers = fake.signed(body)
                    async with session.post(url, data=body, headers=headers) as answer:
                        assert answer.status == 200
                requests = fake.stats.requests
                assert await eventually(lambda: _read_back(fake, requests), 20)  # each echo was read back
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0  # echoes are not drift

                fake.variant(31).stock = 5  # the merchant makes C sellable again: an oversell
                headers, body = fake.webhook(3)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _stock_is(fake, 31, 0), 20)  # protect: put back at once

                fake.variant(21).stock = 0  # the merchant marks B sold out: safe, held for support
                headers, body = fake.webhook(2)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
            held = await eventually(
                lambda: pool.fetchrow("SELECT action FROM drift_records WHERE external_id = '2:21'"), 20
            )
            assert held is not None and held["action"] == "held" and fake.variant(21).stock == 0
            put_back = await pool.fetchrow("SELECT action FROM drift_records WHERE external_id = '3:31'")
            assert put_back is not None and put_back["action"] == "overwritten"
    finally:
        await fake.stop()


async def _stock_is(fake: NuvemshopFake, variant_id: int, stock: int) -> bool:
    return fake.variant(variant_id).stock == stock


async def _read_back(fake: NuvemshopFake, requests_before: int) -> bool:
    return fake.stats.gets > 0 and fake.stats.requests > requests_before
