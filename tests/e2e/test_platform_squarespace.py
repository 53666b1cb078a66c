"""Squarespace end to end: a real daemon and the Squarespace fake. Squarespace sends no stock
notifications, so: a full pass, event writes (an unlimited variant held at 0, then unlimited again),
a merchant's edit found as drift by the next full pass, and a store notification refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    Daemon,
    after_first_periodic_pass,
    credentials_dir,
    eventually,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.squarespace_fake import SquarespaceFake

KEY = "squarespace-e2e-api-key"
A, B, C = (f"9d0c8b7a-6f5e-4d3c-8b2a-{n:012d}" for n in (1, 2, 3))
CATALOG = """
INSERT INTO facilities VALUES ('wh1', 'DE', 'warehouse');
INSERT INTO regions VALUES ('shop_region');
INSERT INTO region_facilities VALUES ('shop_region', 'wh1');
INSERT INTO variants VALUES ('a', 'A', 'pod'), ('b', 'B', 'pod'), ('c', 'C', 'pod');
INSERT INTO facility_stock (variant_id, facility_id, status) VALUES
    ('a', 'wh1', 'in_stock'), ('b', 'wh1', 'in_stock'), ('c', 'wh1', 'in_stock');
"""


async def _event(daemon: Daemon, event_id: str, variant: str, status: str) -> None:
    sent, _ = await daemon.post_events(
        [
            {
                "event_id": event_id,
                "variant_id": variant,
                "facility_id": "wh1",
                "status": status,
                "quantity": None,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        ]
    )
    assert sent == 202


async def test_squarespace_full_pass_event_writes_and_drift_by_full_pass(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = SquarespaceFake(KEY)
    base_url = await fake.start()
    fake.seed(A, None)  # unlimited (print on demand): sells without a count
    fake.seed(B, 0)  # shows sold out although upstream has it
    fake.seed(C, 4)
    credentials = credentials_dir(tmp_path, "shop-key", {"access_token": KEY})
    await pool.execute(CATALOG)
    await register_store(
        pool,
        "shop",
        "squarespace",
        "shop_region",
        "shop-key",
        {"base_url": base_url, "in_stock_quantity": 30},
        {A: "a", B: "b", C: "c"},
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert (fake.items[B]["isUnlimited"], fake.items[B]["quantity"]) == (False, 30)
            assert fake.items[A]["isUnlimited"] is True  # available already: never given a count
            assert fake.stats.agents and all("stocksync" in agent for agent in fake.stats.agents)

            await _event(daemon, "e1", "a", "out_of_stock")  # the unlimited variant must stop selling
            assert await eventually(lambda: _shows(fake, A, False, 0), 20)
            await _event(daemon, "e2", "a", "in_stock")  # ... and sells without a count again
            assert await eventually(lambda: _shows(fake, A, True, None), 20)

            await _event(daemon, "e3", "c", "out_of_stock")
            assert await eventually(lambda: _shows(fake, C, False, 0), 20)
            fake.items[C]["quantity"] = 5  # the merchant sells it again in the Squarespace admin
            status, _ = await daemon.admin("POST", "/v1/stores/shop/sync")
            assert status == 202
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via FROM drift_records"), 20
            )
            assert drift is not None and (drift["external_id"], drift["detected_via"]) == (C, "pass")
            assert await eventually(lambda: _shows(fake, C, False, 0), 20)  # protect: put back

            async with daemon.session.post(
                daemon.url + "/v1/stores/shop/webhook", data=b'{"topic": "order.create"}'
            ) as refused:
                assert refused.status == 400
                assert "full passes" in (await refused.json())["error"]
            assert len(fake.stats.idempotency_keys) == len(set(fake.stats.idempotency_keys))
    finally:
        await fake.stop()


async def _shows(fake: SquarespaceFake, variant: str, sells: bool, quantity: int | None) -> bool:
    item = fake.items[variant]
    if quantity is None:
        return bool(item["isUnlimited"]) is sells
    return item["isUnlimited"] is False and item["quantity"] == quantity and (quantity > 0) is sells
