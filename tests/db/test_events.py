"""Stock events: stored idempotently, applied newest-wins, affected synced pairs queued by region."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.db import events
from daemon.db.pool import Pool
from daemon.errors import InputError
from daemon.model import StockEvent, StockStatus
from tests.db.seed import seed

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def event(
    eid: str, variant: str, facility: str, status: StockStatus, at: datetime, qty: int | None = None
) -> StockEvent:
    return StockEvent(eid, variant, facility, status, qty, at)


async def queued(pool: Pool) -> set[tuple[str, str]]:
    rows = await pool.fetch("SELECT store_id, external_id FROM work_queue WHERE status = 'queued'")
    return {(r["store_id"], r["external_id"]) for r in rows}


async def test_event_queues_only_stores_whose_region_has_the_facility(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        result = await events.ingest(
            conn, "upstream", [event("e1", "tee", "us1", StockStatus.OUT_OF_STOCK, T0)]
        )
    assert (result.new, result.applied, result.queued) == (1, 1, 1)
    assert await queued(pool) == {("na", "NA-TEE")}  # eu syncs tee too, but us1 is not in europe
    assert await pool.fetchval("SELECT status FROM facility_stock WHERE variant_id = 'tee'") == "out_of_stock"


async def test_duplicate_event_is_accepted_and_ignored(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        first = event("e1", "tee", "lv1", StockStatus.IN_STOCK, T0)
        await events.ingest(conn, "upstream", [first])
        await pool.execute("UPDATE work_queue SET status = 'done'")
        again = await events.ingest(conn, "upstream", [first])
    assert (again.received, again.new, again.applied, again.queued) == (1, 0, 0, 0)
    assert await pool.fetchval("SELECT count(*) FROM inbox_events") == 1
    assert await queued(pool) == set()


async def test_older_event_does_not_overwrite_newer_stock(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(conn, "upstream", [event("new", "socks", "us1", StockStatus.IN_STOCK, T0, 7)])
        late = await events.ingest(
            conn,
            "upstream",
            [event("old", "socks", "us1", StockStatus.OUT_OF_STOCK, T0 - timedelta(minutes=5), 0)],
        )
    assert late.new == 1 and late.applied == 0
    row = await pool.fetchrow("SELECT status, quantity FROM facility_stock WHERE variant_id = 'socks'")
    assert row is not None
    assert (row["status"], row["quantity"]) == ("in_stock", 7)
    # kept in the inbox all the same, so a re-delivery is recognised as a duplicate
    assert await pool.fetchval("SELECT count(*) FROM inbox_events WHERE event_id = 'old'") == 1


async def test_newest_event_of_a_batch_wins(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(
            conn,
            "upstream",
            [
                event("b", "socks", "us1", StockStatus.IN_STOCK, T0 + timedelta(seconds=2), 3),
                event("a", "socks", "us1", StockStatus.IN_STOCK, T0, 9),
            ],
        )
    assert await pool.fetchval("SELECT quantity FROM facility_stock WHERE variant_id = 'socks'") == 3


async def test_unknown_variant_refuses_the_whole_batch(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        batch = [
            event("ok", "tee", "us1", StockStatus.IN_STOCK, T0),
            event("bad", "nope", "us1", StockStatus.IN_STOCK, T0),
        ]
        with pytest.raises(InputError, match=r"events\[1\]: variant_id: unknown variant 'nope'"):
            await events.ingest(conn, "upstream", batch)
    assert await pool.fetchval("SELECT count(*) FROM inbox_events") == 0
    assert await pool.fetchval("SELECT count(*) FROM facility_stock") == 0


async def test_paused_variant_is_not_queued(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute("UPDATE synced_variants SET sync_enabled = false WHERE external_id = 'EU-TEE'")
        await events.ingest(conn, "upstream", [event("e", "tee", "lv1", StockStatus.IN_STOCK, T0)])
    assert await queued(pool) == set()


async def test_a_row_frozen_in_the_future_by_old_data_takes_the_next_real_event(pool: Pool) -> None:
    # before future-dated events were refused, one could date a stock row years ahead: newest wins
    # then ignored every real event for that (variant, facility)
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(conn, "upstream", [event("e0", "socks", "us1", StockStatus.IN_STOCK, T0, 7)])
        await pool.execute(
            "UPDATE facility_stock SET source_updated_at = now() + interval '10 years' WHERE variant_id = 'socks'"
            " AND facility_id = 'us1'"
        )
        real = await events.ingest(
            conn, "upstream", [event("e1", "socks", "us1", StockStatus.OUT_OF_STOCK, datetime.now(UTC), 0)]
        )
    assert real.applied == 1
    row = await pool.fetchrow(
        "SELECT status, source_updated_at <= now() AS repaired FROM facility_stock"
        " WHERE variant_id = 'socks' AND facility_id = 'us1'"
    )
    assert row is not None and (row["status"], row["repaired"]) == ("out_of_stock", True)


async def test_a_row_dated_within_the_clock_skew_still_wins_over_an_older_event(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        ahead = datetime.now(UTC) + timedelta(minutes=2)  # a sender whose clock runs a bit fast
        await events.ingest(conn, "upstream", [event("e0", "socks", "us1", StockStatus.IN_STOCK, ahead, 7)])
        older = await events.ingest(
            conn, "upstream", [event("e1", "socks", "us1", StockStatus.OUT_OF_STOCK, datetime.now(UTC), 0)]
        )
    assert older.applied == 0


async def test_accepted_events_are_pruned_after_their_retention_in_batches(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(conn, "upstream", [event("recent", "tee", "us1", StockStatus.IN_STOCK, T0)])
    await pool.execute(
        "INSERT INTO inbox_events (source, event_id, received_at, variant_id, facility_id, status,"
        " occurred_at) SELECT 'upstream', 'old-' || g, now() - interval '15 days', 'tee', 'us1',"
        " 'in_stock', now() - interval '15 days' FROM generate_series(1, 10001) g"
    )
    assert await events.prune_inbox(pool, 14 * 86400) == 10_001  # two batches of at most 10,000
    left = await pool.fetch("SELECT event_id FROM inbox_events")
    assert [r["event_id"] for r in left] == ["recent"]
