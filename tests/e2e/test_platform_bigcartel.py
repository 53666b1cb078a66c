"""Big Cartel end to end: a real daemon, the Big Cartel fake, a full pass (reviving a sold-out
product), an event write, the echo of our own write (not drift) and a seller's edit found by reading
the notified product back."""

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
from tests.reconcilers.fakes.bigcartel_fake import BigCartelFake, FakeOption

TOKEN, SECRET = "bigcartel-e2e-token", "bigcartel-e2e-client-secret"
CATALOG = """
INSERT INTO facilities VALUES ('us1', 'US', 'Salt Lake City');
INSERT INTO regions VALUES ('usa');
INSERT INTO region_facilities VALUES ('usa', 'us1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'us1', 'in_stock'), ('b', 'us1', 'in_stock'), ('c', 'us1', 'in_stock');
"""


async def test_bigcartel_full_pass_event_write_echo_and_edit(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    fake = BigCartelFake(TOKEN, SECRET)
    base_url = await fake.start()
    fake.add(FakeOption(11, 1, 0), status="sold_out")  # A shows sold out although upstream has it
    fake.add(FakeOption(12, 1, 4))  # A's product has another option we do not sync: it must survive
    fake.add(FakeOption(21, 2, 5))
    fake.add(FakeOption(31, 3, 5))
    credentials = credentials_dir(tmp_path, "shop-token", {"access_token": TOKEN, "client_secret": SECRET})
    await pool.execute(CATALOG)
    settings = {
        "base_url": base_url,
        "account_id": fake.account_id,
        "user_agent": "stocksync e2e (dev@example.invalid)",
    }
    await register_store(
        pool, "shop", "bigcartel", "usa", "shop-token", settings, {"1:11": "a", "2:21": "b", "3:31": "c"}
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert fake.option(11).quantity == 100  # status mode: the store's POD quantity
            assert fake.products[1].status == "active"  # the sold-out product sells again
            assert fake.option(12).quantity == 4  # the unsynced option was listed, untouched

            assert await daemon.post_sold_out("c", "us1") == 202
            assert await eventually(lambda: _quantity_is(fake, 31, 0), 20)

            async with aiohttp.ClientSession() as session:
                url = f"{daemon.url}/v1/stores/shop/webhook"
                for body in list(fake.webhooks):  # the store's product.updated for each of our writes
                    async with session.post(url, data=body, headers=fake.signed(body)) as answer:
                        assert answer.status == 200
                requests = fake.stats.requests
                assert await eventually(lambda: _read_back(fake, requests), 20)  # each echo was read back
                assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0  # echoes are not drift

                fake.option(31).quantity = 5  # the seller makes C sellable again: an oversell
                headers, body = fake.webhook(3)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
                assert await eventually(lambda: _quantity_is(fake, 31, 0), 20)  # protect: put back at once

                fake.products[2].status = "sold_out"  # the seller marks B sold out: safe, held for support
                headers, body = fake.webhook(2)
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
            held = await eventually(
                lambda: pool.fetchrow("SELECT action FROM drift_records WHERE external_id = '2:21'"), 20
            )
            assert held is not None and held["action"] == "held" and fake.products[2].status == "sold_out"
            put_back = await pool.fetchrow("SELECT action FROM drift_records WHERE external_id = '3:31'")
            assert put_back is not None and put_back["action"] == "overwritten"
    finally:
        await fake.stop()


async def _quantity_is(fake: BigCartelFake, option_id: int, quantity: int) -> bool:
    return fake.option(option_id).quantity == quantity


async def _read_back(fake: BigCartelFake, requests_before: int) -> bool:
    return fake.stats.gets > 0 and fake.stats.requests > requests_before
