"""Alerts from the database (sql/queries/alerts.sql) and the notifiers' shared state (migration 0014):
the snapshot sees guard holds, contested drift and failures; two notifiers on one database send once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from daemon.alerts import Thresholds, active_alerts
from daemon.config import Config, NotifyConfig, NotifyWebhookConfig
from daemon.credentials import CredentialStore
from daemon.db import alerts as alerts_db
from daemon.db import work_queue
from daemon.db.pool import Pool
from daemon.notify import AlertNotifier
from daemon.notify_channels import DeliveryError
from daemon.notify_plan import Outgoing
from tests.db.seed import seed

LIMITS = Thresholds(failing_after_s=0, stale_after_intervals=3)


class FakeChannel:
    """Records what it is asked to send; fails while `failing` is set."""

    name = "webhook"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.failing = False

    async def send(self, message: Outgoing, now: datetime) -> str:
        if self.failing:
            raise DeliveryError("example.com answered HTTP 404", temporary=False)
        self.sent.append(message)
        return "HTTP 200"

    async def send_test(self, host: str, now: datetime) -> str:
        return "HTTP 200"

    async def close(self) -> None:
        return None


def notifier(pool: Pool, channel: FakeChannel) -> AlertNotifier:
    config = Config(notify=NotifyConfig(webhook=NotifyWebhookConfig(url="https://hooks.example.com/x")))
    return AlertNotifier(pool, config, CredentialStore(None, environ={}), {"webhook": channel})


async def hold(pool: Pool, store_id: str) -> None:
    await pool.execute(
        "UPDATE store_schedule SET guard_held_at = now(), guard_reason = '2 of 2 would go' WHERE store_id = $1",
        store_id,
    )


async def test_the_snapshot_sees_held_contested_and_failing_stores(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await hold(pool, "na")
    await pool.execute("INSERT INTO guard_held_items VALUES ('na', 'NA-TEE'), ('na', 'NA-SOCKS')")
    for external_id, variant_id in (("EU-TEE", "tee"), ("EU-MUG", "mug")):
        await pool.execute(
            "INSERT INTO drift_records (store_id, external_id, variant_id, detected_via, action)"
            " VALUES ('eu', $1, $2, 'pass', 'contested')",
            external_id,
            variant_id,
        )
    await work_queue.record_store_failure(pool, "eu", 3, 30.0)
    snapshot = await alerts_db.snapshot(pool)
    by_key = {a.key: a for a in active_alerts(snapshot, LIMITS)}
    assert sorted(by_key) == ["contested:eu", "guard_held:na", "store_failing:eu"]
    assert "2 writes held" in by_key["guard_held:na"].summary
    assert "2 contested variants" in by_key["contested:eu"].summary and by_key["contested:eu"].revision == "2"
    assert by_key["contested:eu"].platform == "sandbox"


async def test_failing_since_is_set_by_the_first_failure_and_cleared_by_a_success(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    since = "SELECT failing_since FROM store_schedule WHERE store_id = 'na'"
    assert await pool.fetchval(since) is None
    await work_queue.record_store_failure(pool, "na", 3, 30.0)
    first = await pool.fetchval(since)
    assert first is not None
    await work_queue.record_store_failure(pool, "na", 3, 30.0)
    assert await pool.fetchval(since) == first  # a second failure does not move it
    # a success resets the streak (the workers' statement, written out: its home has moved before)
    await pool.execute(
        "UPDATE store_schedule SET consecutive_failures = 0, circuit_open_until = NULL WHERE store_id = 'na'"
    )
    assert await pool.fetchval(since) is None


async def test_two_notifiers_on_one_database_send_each_message_once(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await hold(pool, "na")
    channels = [FakeChannel(), FakeChannel()]
    notifiers = [notifier(pool, c) for c in channels]
    for _ in range(5):  # both evaluate at the same moment, again and again
        queued = await asyncio.gather(*(n.evaluate_once() for n in notifiers))
        for n, messages in zip(notifiers, queued, strict=True):
            for message in messages:
                await n.deliver(message, datetime.now().astimezone())
    sent = [m for c in channels for m in c.sent]
    assert [(m.notices[0].alert.key, m.notices[0].state) for m in sent] == [("guard_held:na", "firing")]

    await pool.execute("UPDATE store_schedule SET guard_held_at = NULL")
    for _ in range(3):
        for n, messages in zip(
            notifiers, await asyncio.gather(*(n.evaluate_once() for n in notifiers)), strict=True
        ):
            for message in messages:
                await n.deliver(message, datetime.now().astimezone())
    sent = [m for c in channels for m in c.sent]
    assert [m.notices[0].state for m in sent] == ["firing", "resolved"]


async def test_a_message_that_failed_for_good_is_planned_again(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await hold(pool, "na")
    channel = FakeChannel()
    n = notifier(pool, channel)
    channel.failing = True
    (message,) = await n.evaluate_once()
    cycle_at = await pool.fetchval("SELECT last_sent_at FROM notification_state")
    assert not await n.deliver(message, cycle_at)
    assert await pool.fetchval("SELECT count(*) FROM notification_state") == 0  # undone
    channel.failing = False
    (again,) = await n.evaluate_once()
    assert await n.deliver(again, cycle_at)
    assert [m.notices[0].alert.key for m in channel.sent] == ["guard_held:na"]
    assert await n.evaluate_once() == []


async def test_the_hourly_limit_is_shared_by_replicas(pool: Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    config = Config(
        notify=NotifyConfig(max_per_hour=1, webhook=NotifyWebhookConfig(url="https://hooks.example.com/x"))
    )
    channels = [FakeChannel(), FakeChannel()]
    store = CredentialStore(None, environ={})
    notifiers = [AlertNotifier(pool, config, store, {"webhook": c}) for c in channels]
    await hold(pool, "na")
    assert len(await notifiers[0].evaluate_once()) == 1
    await hold(pool, "eu")
    assert await notifiers[1].evaluate_once() == []  # the hour's one message is used, by the other replica


async def test_the_snapshot_sees_an_upstream_source_that_stopped_pulling(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(
            "INSERT INTO sources (id, kind, facilities, pull_interval, created_at) VALUES"
            " ('feed', 'http_feed', '{us1}', interval '1 hour', now() - interval '10 hours'),"
            " ('fresh', 'http_feed', '{us1}', interval '1 hour', now() - interval '10 hours')"
        )
        await conn.execute(
            "INSERT INTO source_state (source_id, last_success_at, last_error) VALUES"
            " ('feed', now() - interval '5 hours', 'feed:3: status: unknown value'),"
            " ('fresh', now() - interval '10 minutes', NULL)"
        )
    snapshot = await alerts_db.snapshot(pool)
    alerts = active_alerts(snapshot, Thresholds(source_stale_after_intervals=3))
    assert [a.key for a in alerts] == ["source_stale:feed"]
    assert "feed:3: status" in alerts[0].summary
