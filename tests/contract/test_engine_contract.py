"""The contract cases that need the engine: every registered platform, its local fake, a real PostgreSQL
and daemon.engine.Engine with the shipped sync defaults.

A store notification goes the daemon's way: verify_webhook → parse_webhook → Engine.take_notification
with the platform's notification_ref; queued work is the pass the worker would run for those items.
A platform whose notifications name items without their state (reread_products) is judged by the re-read
pass the worker runs for them: its drift and its writes stand for the notification's.
A case the engine fails is marked xfail(strict=True) naming the issue, so it flips visibly when fixed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.db.stores import load_store
from daemon.engine import Engine, NotificationResult
from reconcilers import ReconcilerFactory, reconciler_class
from reconcilers.transport import RetryPolicy
from tests.contract.platforms import ADAPTERS, PlatformAdapter, Webhook
from tests.e2e.harness import CATALOG_SQL

STORE = "c1"


@dataclass
class Bench:
    pool: Pool
    engine: Engine
    platform: PlatformAdapter

    async def notify(self, hook: Webhook) -> NotificationResult:
        """The daemon's way in: verify_webhook, parse_webhook, Engine.take_notification; a notification
        whose values are read back is judged by the queued pass the worker runs at once."""
        async with self.pool.acquire() as conn:
            store = await load_store(conn, STORE)
        reconciler = self.engine.reconciler_for(store)
        assert reconciler.verify_webhook(hook.headers, hook.body)
        notified = reconciler.parse_webhook(hook.headers, hook.body)
        capabilities = reconciler.capabilities
        taken = await self.engine.take_notification(
            STORE, notified, capabilities.notification_ref, capabilities.product_of
        )
        if not ((notified.reread or notified.reread_products) and taken.queued):
            return taken
        queued = await self.pool.fetch(
            "SELECT kind, external_id FROM work_queue WHERE store_id = $1 AND status = 'queued'", STORE
        )
        only = None if any(r["kind"] == "full_pass" for r in queued) else [r["external_id"] for r in queued]
        before = await self.drift_records()
        report = await self.engine.run_pass(STORE, trigger="webhook", only=only)
        assert report.outcome == "ok"
        return NotificationResult(
            report.counts.checked, await self.drift_records() - before, report.counts.changed
        )

    async def drift_records(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM drift_records"))

    async def open_drift(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM drift_records WHERE status = 'open'"))


@pytest.fixture(params=sorted(ADAPTERS))
async def bench(request: pytest.FixtureRequest, pool: Pool, tmp_path: Path) -> AsyncIterator[Bench]:
    platform = ADAPTERS[request.param]()
    await platform.start()
    await pool.execute(CATALOG_SQL)
    (tmp_path / "cred").write_text(platform.credential().reveal())
    await pool.execute(
        "INSERT INTO stores (id, platform, region_id, credential, drift_policy, mode, settings)"
        " VALUES ($1, $2, 'north_america', 'cred', 'protect', 'status', $3)",
        STORE,
        platform.name,
        platform.settings(),
    )
    await pool.execute("INSERT INTO store_schedule (store_id) VALUES ($1)", STORE)
    # upstream: out of stock everywhere in the region; the store still sells it (oversell to fix)
    await pool.execute("INSERT INTO variants VALUES ('u1', 'U1', 'pod')")
    await pool.execute(
        "INSERT INTO facility_stock (variant_id, facility_id, status) VALUES ('u1', 'us1', 'out_of_stock')"
    )
    await pool.execute(
        "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ($1, $2, 'u1')",
        STORE,
        platform.external_id(1),
    )
    platform.seed(1, 5)
    async with aiohttp.ClientSession() as session:
        factory = ReconcilerFactory(session, retry=RetryPolicy(attempts=3, base_delay=0.01))
        engine = Engine(pool, factory, CredentialStore(str(tmp_path)), Config())  # shipped defaults
        first = await engine.run_pass(STORE)
        assert first.outcome == "ok" and first.counts.changed == 1
        assert not platform.sells(1)  # the oversell is fixed by the first pass
        yield Bench(pool, engine, platform)
    await platform.stop()


def sends_notifications(bench: Bench) -> None:
    """Skip a store-notification case on a platform that sends none (drift is found by full passes)."""
    if reconciler_class(bench.platform.name).capabilities.webhook_scheme is None:
        pytest.skip(f"{bench.platform.name} sends no store notifications: drift is found by full passes")


async def test_an_oversell_edit_is_found_and_put_back_by_the_next_full_pass(bench: Bench) -> None:
    bench.platform.seed(1, 3)  # a merchant makes it sellable again in the store admin
    result = await bench.engine.run_pass(STORE)
    assert result.outcome == "ok"
    drift = await bench.pool.fetchrow("SELECT detected_via FROM drift_records")
    assert drift is not None and drift["detected_via"] == "pass"
    assert not bench.platform.sells(1)  # protect: an oversell is put back at once


async def test_the_echo_of_our_write_is_not_drift(bench: Bench) -> None:
    sends_notifications(bench)
    echo = await bench.notify(bench.platform.webhook(1, 0))
    assert (echo.matched, echo.drift_opened, echo.queued) == (1, 0, 0)
    assert await bench.open_drift() == 0


async def test_an_oversell_edit_by_webhook_is_drift_and_queues_the_correction(bench: Bench) -> None:
    sends_notifications(bench)
    bench.platform.seed(1, 3)  # a merchant makes it sellable again in the store admin
    edit = await bench.notify(bench.platform.webhook(1, 3))
    assert (edit.matched, edit.drift_opened, edit.queued) == (1, 1, 1)


async def test_an_oversell_edit_by_webhook_is_put_back_by_the_queued_pass(bench: Bench) -> None:
    sends_notifications(bench)
    bench.platform.seed(1, 3)
    await bench.notify(bench.platform.webhook(1, 3))
    # what the worker runs for the queued item (the 2 s bound is the worker's latency on top)
    await bench.engine.run_pass(STORE, trigger="webhook", only=[bench.platform.external_id(1)])
    assert not bench.platform.sells(1)


async def test_a_replayed_old_delivery_does_not_reopen_drift(bench: Bench) -> None:
    sends_notifications(bench)
    sellable = bench.platform.webhook(1, 3)  # the merchant's edit ...
    bench.platform.seed(1, 3)
    await bench.notify(sellable)
    bench.platform.seed(1, 0)  # ... undone in the admin: the store is back in line
    await bench.notify(bench.platform.webhook(1, 0))
    assert await bench.open_drift() == 0
    replay = await bench.notify(sellable)  # the platform re-delivers the old notification
    assert replay.drift_opened == 0
    assert await bench.open_drift() == 0


async def test_news_of_an_item_this_store_does_not_sync_changes_nothing(bench: Bench) -> None:
    sends_notifications(bench)
    other = await bench.notify(bench.platform.webhook(2, 3))  # item 2 is not synced here
    assert (other.matched, other.drift_opened, other.queued) == (0, 0, 0)
    assert await bench.open_drift() == 0
