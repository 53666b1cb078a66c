"""The gauges /metrics reads from the database at scrape time: what the shipped alert rules need, and
no series left behind by a store that was disabled or a count that fell to zero."""

from __future__ import annotations

from daemon.db.pool import Pool
from daemon.metrics import REGISTRY, refresh_from_database
from tests.db.seed import seed


def value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_interval_creation_time_and_contested_count_are_exported(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await pool.execute("UPDATE stores SET full_pass_interval = interval '30 minutes' WHERE id = 'na'")
    await pool.execute(
        "INSERT INTO store_state (store_id, external_id, contested) VALUES ('na', 'NA-TEE', true),"
        " ('na', 'NA-SOCKS', false), ('eu', 'EU-MUG', true)"
    )
    await refresh_from_database(pool)
    assert value("stocksync_full_pass_interval_seconds", store_id="na") == 1800
    assert value("stocksync_full_pass_interval_seconds", store_id="eu") == 4 * 3600  # the default
    created = await pool.fetchval("SELECT extract(epoch FROM created_at)::float8 FROM stores WHERE id = 'na'")
    assert value("stocksync_store_created_timestamp_seconds", store_id="na") == created
    assert value("stocksync_last_successful_pass_timestamp_seconds", store_id="na", platform="sandbox") == 0
    assert value("stocksync_contested_variants", platform="sandbox") == 2

    await pool.execute("UPDATE store_state SET contested = false")
    await refresh_from_database(pool)
    assert value("stocksync_contested_variants", platform="sandbox") == 0  # reported as 0, not dropped


async def test_open_drift_that_is_all_resolved_reads_zero(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await pool.execute(
        "INSERT INTO drift_records (store_id, external_id, variant_id, detected_via, action)"
        " VALUES ('na', 'NA-TEE', 'tee', 'pass', 'held')"
    )
    await refresh_from_database(pool)
    assert value("stocksync_open_drift", platform="sandbox") == 1
    await pool.execute("UPDATE drift_records SET status = 'accepted'")
    await refresh_from_database(pool)
    assert value("stocksync_open_drift", platform="sandbox") == 0  # found: it kept repeating 1


async def test_a_disabled_store_leaves_no_series_behind(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await pool.execute("UPDATE store_schedule SET guard_held_at = now() WHERE store_id = 'eu'")
    await refresh_from_database(pool)
    assert value("stocksync_guard_held", store_id="eu") == 1
    await pool.execute("UPDATE stores SET enabled = false WHERE id = 'eu'")
    await refresh_from_database(pool)
    # found: a disabled store's last values stayed exported, so an alert on it would never resolve
    for name, labels in (
        ("stocksync_guard_held", {"store_id": "eu"}),
        ("stocksync_circuit_open", {"store_id": "eu"}),
        ("stocksync_full_pass_interval_seconds", {"store_id": "eu"}),
        ("stocksync_store_created_timestamp_seconds", {"store_id": "eu"}),
        ("stocksync_last_successful_pass_timestamp_seconds", {"store_id": "eu", "platform": "sandbox"}),
    ):
        assert value(name, **labels) is None, name
    assert value("stocksync_guard_held", store_id="na") == 0


async def test_the_gauges_keep_their_values_while_the_database_is_gone(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await refresh_from_database(pool)
    await pool.close()
    await refresh_from_database(pool)
    assert value("stocksync_database_up") == 0
    assert value("stocksync_full_pass_interval_seconds", store_id="na") == 4 * 3600


async def test_only_ready_work_counts_towards_the_oldest_ready_age(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await refresh_from_database(pool)
    assert value("stocksync_queue_oldest_ready_age_seconds") == 0  # nothing queued
    # na's item has waited 20 minutes but backs off for 5 more: waiting on purpose
    await pool.execute(
        "INSERT INTO work_queue (store_id, kind, external_id, trigger, enqueued_at, not_before)"
        " VALUES ('na', 'variant', 'NA-TEE', 'event', now() - interval '20 minutes', now() + interval '5 minutes')"
    )
    await refresh_from_database(pool)
    assert (value("stocksync_queue_oldest_age_seconds") or 0) >= 1200
    assert value("stocksync_queue_oldest_ready_age_seconds") == 0
    # eu's item became ready 10 minutes ago and nobody took it
    await pool.execute(
        "INSERT INTO work_queue (store_id, kind, external_id, trigger, enqueued_at, not_before)"
        " VALUES ('eu', 'variant', 'EU-TEE', 'event', now() - interval '20 minutes', now() - interval '10 minutes')"
    )
    await refresh_from_database(pool)
    assert 600 <= (value("stocksync_queue_oldest_ready_age_seconds") or 0) < 660
    # ... unless eu's circuit is open: then it waits on purpose, and counts again from the circuit closing
    await pool.execute(
        "UPDATE store_schedule SET circuit_open_until = now() + interval '1 minute' WHERE store_id = 'eu'"
    )
    await refresh_from_database(pool)
    assert value("stocksync_queue_oldest_ready_age_seconds") == 0
    await pool.execute(
        "UPDATE store_schedule SET circuit_open_until = now() - interval '2 minutes' WHERE store_id = 'eu'"
    )
    await refresh_from_database(pool)
    assert 120 <= (value("stocksync_queue_oldest_ready_age_seconds") or 0) < 180


async def test_a_disabled_source_leaves_no_series_behind(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await pool.execute(
        "INSERT INTO sources (id, kind, facilities, created_at) VALUES"
        " ('gone', 'http_feed', '{us1}', now() - interval '2 days')"
    )
    await pool.execute("INSERT INTO source_state (source_id) VALUES ('gone')")
    await refresh_from_database(pool)
    assert value("stocksync_source_stale", source_id="gone") == 1
    await pool.execute("UPDATE sources SET enabled = false WHERE id = 'gone'")
    await refresh_from_database(pool)
    # found in review: the source gauges were set but never rebuilt, so a stale alert never resolved
    for name in (
        "stocksync_source_stale",
        "stocksync_source_rows",
        "stocksync_source_pull_interval_seconds",
        "stocksync_source_last_success_timestamp_seconds",
    ):
        assert value(name, source_id="gone") is None, name
