"""BASE end to end: a real daemon and the BASE fake. BASE sends no notifications, so: a full pass (a
plain item and a variation), an event write, a merchant's edit found as drift by the next full pass,
a notification refused; the daemon starts from an expired access token and refreshes it itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.daemon_process import (
    Daemon,
    after_first_periodic_pass,
    eventually,
    register_store,
    running_daemon,
)
from tests.reconcilers.fakes.base_fake import BaseFake

CLIENT = {"client_id": "base-e2e-client", "client_secret": "base-e2e-secret", "redirect_uri": "https://x/cb"}
REFRESH = "base-e2e-refresh-token"
A, B, C = "501", "502:21", "503"  # a plain item, a variation of item 502, a plain item
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


async def test_base_full_pass_event_write_and_drift_by_full_pass(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    fake = BaseFake(CLIENT["client_id"], CLIENT["client_secret"], CLIENT["redirect_uri"], REFRESH)
    base_url = await fake.start()
    fake.seed(501, 0)  # shows sold out although upstream has it
    fake.seed(502, variations={21: 0, 22: 7})
    fake.seed(503, 4)
    expired = fake.issue(lifetime=0)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "shop-key").write_text(
        json.dumps(CLIENT | {"refresh_token": REFRESH, "access_token": expired})
    )
    await pool.execute(CATALOG)
    await register_store(
        pool,
        "shop",
        "base",
        "shop_region",
        "shop-key",
        {"base_url": base_url, "in_stock_quantity": 30, "requests_per_second": 50},
        {A: "a", B: "b", C: "c"},
    )
    try:
        async with running_daemon(db_dsn, tmp_path, credentials) as daemon:
            await after_first_periodic_pass(pool)
            assert (fake.stock(501), fake.stock(502, 21), fake.stock(502)) == (30, 30, 37)
            assert fake.stats.token_requests >= 1  # the expired token was refreshed
            assert all("stock" in form or "variation_stock" in form for form in fake.stats.writes)

            await _event(daemon, "e1", "c", "out_of_stock")
            assert await eventually(lambda: _shows(fake, 503, 0), 20)
            fake.seed(503, 5)  # the merchant sells it again in the BASE admin
            status, _ = await daemon.admin("POST", "/v1/stores/shop/sync")
            assert status == 202
            drift = await eventually(
                lambda: pool.fetchrow("SELECT external_id, detected_via FROM drift_records"), 20
            )
            assert drift is not None and (drift["external_id"], drift["detected_via"]) == (C, "pass")
            assert await eventually(lambda: _shows(fake, 503, 0), 20)  # protect: put back

            async with daemon.session.post(
                daemon.url + "/v1/stores/shop/webhook", data=b'{"event": "item.updated"}'
            ) as refused:
                assert refused.status == 400
                assert "full passes" in (await refused.json())["error"]
    finally:
        await fake.stop()


async def _shows(fake: BaseFake, item: int, quantity: int) -> bool:
    return fake.stock(item) == quantity
