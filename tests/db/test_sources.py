"""Sources in the database: the two imports, applying a snapshot (newest wins, refused rows apply
nothing, absence is never out), the changed pairs queued like events, pull leases and persisted
requests, and a catalog update asking the covering sources for a pull."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon.db import events
from daemon.db import sources as sources_db
from daemon.db.catalog import import_rows
from daemon.db.pool import Pool
from daemon.errors import InputError
from daemon.importer import read_rows
from daemon.model import StockEvent, StockStatus
from sources.interface import Snapshot, SourceConfig, SourceError, SourceStock, Validators
from tests.db.seed import seed

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
IN, OUT = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK
FEED = SourceConfig("feed1", "http_feed", {"url": "http://x"}, None, frozenset({"us1", "ca1"}))


async def add_source(pool: Pool, source_id: str = "feed1", facilities: str = "us1 ca1") -> None:
    await pool.execute(
        "INSERT INTO sources (id, kind, facilities) VALUES ($1, 'http_feed', string_to_array($2, ' '))",
        source_id,
        facilities,
    )
    await pool.execute("INSERT INTO source_state (source_id) VALUES ($1)", source_id)


async def stock(pool: Pool) -> dict[tuple[str, str], tuple[str, int | None]]:
    rows = await pool.fetch("SELECT variant_id, facility_id, status, quantity FROM facility_stock")
    return {(r["variant_id"], r["facility_id"]): (r["status"], r["quantity"]) for r in rows}


async def queued(pool: Pool) -> set[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT store_id, external_id, trigger FROM work_queue WHERE status = 'queued'")
    return {(r["store_id"], r["external_id"], r["trigger"]) for r in rows}


async def test_snapshot_applies_and_queues_the_changed_pairs(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await add_source(pool)
        snapshot = Snapshot([SourceStock("tee", "us1", OUT, None), SourceStock("socks", "us1", IN, 4)], T0)
        applied = await sources_db.apply_snapshot(conn, FEED, snapshot)
    assert (applied.rows, applied.changed) == (2, 2)
    assert (await stock(pool))[("tee", "us1")] == ("out_of_stock", None)
    # na syncs tee and socks in north_america; eu's region does not hold us1
    assert await queued(pool) == {("na", "NA-TEE", "source"), ("na", "NA-SOCKS", "source")}


async def test_an_older_snapshot_never_undoes_a_newer_event(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await events.ingest(conn, "upstream", [StockEvent("e1", "tee", "us1", OUT, None, T0)])
        older = Snapshot([SourceStock("tee", "us1", IN, None)], T0 - timedelta(minutes=1))
        applied = await sources_db.apply_snapshot(conn, FEED, older)
        assert applied.changed == 0
        assert (await stock(pool))[("tee", "us1")] == ("out_of_stock", None)
        newer = Snapshot([SourceStock("tee", "us1", IN, None)], T0 + timedelta(minutes=1))
        assert (await sources_db.apply_snapshot(conn, FEED, newer)).changed == 1
        # and an event older than that snapshot, delivered late, does not undo the snapshot
        late = await events.ingest(conn, "upstream", [StockEvent("e0", "tee", "us1", OUT, None, T0)])
    assert late.applied == 0
    assert (await stock(pool))[("tee", "us1")] == ("in_stock", None)


async def test_a_confirming_snapshot_changes_nothing_and_queues_nothing(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        first = Snapshot([SourceStock("tee", "us1", OUT, None)], T0)
        await sources_db.apply_snapshot(conn, FEED, first)
        await pool.execute("UPDATE work_queue SET status = 'done'")
        again = await sources_db.apply_snapshot(conn, FEED, Snapshot(first.rows, T0 + timedelta(hours=1)))
    assert (again.changed, again.queued) == (0, 0)
    assert await queued(pool) == set()


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        (SourceStock("mug", "lv1", OUT, None, "feed:3"), "feed:3: facility_id"),  # outside the facilities
        (SourceStock("hat", "us1", OUT, None, "feed:3"), "feed:3: variant_id"),  # unknown variant
        (SourceStock("socks", "ca1", IN, None, "feed:3"), "feed:3: quantity"),  # warehouse, no count
        (SourceStock("tee", "us1", IN, None, "feed:3"), "feed:3: variant_id,facility_id"),  # duplicate
    ],
)
async def test_one_refused_row_applies_nothing(pool: Pool, bad: SourceStock, where: str) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        before = await stock(pool)
        snapshot = Snapshot([SourceStock("tee", "us1", OUT, None, "feed:2"), bad], T0)
        with pytest.raises(SourceError) as caught:
            await sources_db.apply_snapshot(conn, FEED, snapshot)
    assert caught.value.where == where
    assert await stock(pool) == before
    assert await queued(pool) == set()


async def test_absence_is_never_out_of_stock(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        await sources_db.apply_snapshot(
            conn,
            FEED,
            Snapshot([SourceStock("tee", "us1", IN, None), SourceStock("mug", "us1", IN, None)], T0),
        )
        # a later, truncated snapshot names only tee: mug keeps what it had
        partial = Snapshot([SourceStock("tee", "us1", OUT, None)], T0 + timedelta(hours=1))
        await sources_db.apply_snapshot(conn, FEED, partial)
        empty = await sources_db.apply_snapshot(conn, FEED, Snapshot([], T0 + timedelta(hours=2)))
    assert empty.changed == 0
    current = await stock(pool)
    assert current[("mug", "us1")] == ("in_stock", None)
    assert current[("tee", "us1")] == ("out_of_stock", None)


async def test_one_lease_per_source_and_a_requested_pull_is_claimed_when_not_due(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await add_source(pool)
    [claim] = await sources_db.claim_pulls(pool, "a", 900, 10)
    assert await sources_db.claim_pulls(pool, "b", 900, 10) == []  # leased by a
    await sources_db.finish_pull(
        pool, claim, "a", Validators('"v1"', None), 12, complete=True, jitter_share=0.1
    )
    assert await sources_db.claim_pulls(pool, "b", 900, 10) == []  # not due for ~4 hours
    assert await sources_db.request_pull(pool, "feed1")
    assert not await sources_db.request_pull(pool, "nope")
    [requested] = await sources_db.claim_pulls(pool, "b", 900, 10)
    assert requested.previous == Validators('"v1"', None) and requested.only is None
    # a 304 keeps the rows of the snapshot it confirmed and clears the request it served
    await sources_db.finish_pull(
        pool, requested, "b", requested.previous, None, complete=True, jitter_share=0.1
    )
    state = await sources_db.pull_state(pool, "feed1")
    assert state is not None and state["last_rows"] == 12 and state["pull_requested_at"] is None


async def test_partial_requests_merge_and_a_full_one_absorbs_them(pool: Pool) -> None:
    await add_source(pool)
    await pool.execute("UPDATE source_state SET next_pull_at = now() + interval '1 hour'")
    await sources_db.request_pull(pool, "feed1", ["B"])
    await sources_db.request_pull(pool, "feed1", ["A", "B"])
    assert await pool.fetchval("SELECT requested_ids FROM source_state") == ["A", "B"]
    await sources_db.request_pull(pool, "feed1")
    await sources_db.request_pull(pool, "feed1", ["C"])
    assert await pool.fetchval("SELECT requested_ids FROM source_state") is None  # whole source


async def test_a_failed_pull_keeps_its_reason_and_backs_off(pool: Pool) -> None:
    await add_source(pool)
    await sources_db.request_pull(pool, "feed1")
    [claim] = await sources_db.claim_pulls(pool, "a", 900, 10)
    await sources_db.fail_pull(pool, claim, "a", "GET /stock.json: HTTP 500")
    state = await sources_db.pull_state(pool, "feed1")
    assert state is not None
    assert (state["last_error"], state["consecutive_failures"], state["pull_requested_at"]) == (
        "GET /stock.json: HTTP 500",
        1,
        None,
    )
    assert await sources_db.claim_pulls(pool, "a", 900, 10) == []  # backed off


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_imports_of_sources_and_mappings_and_the_catalog_update_asks_for_a_pull(
    pool: Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        src = _write(
            tmp_path,
            "sources.csv",
            "id,kind,credential,settings,facilities,pull_interval_minutes\n"
            'feed1,http_feed,,"{""url"": ""https://feed.example/stock.json""}",us1 ca1,60\n',
        )
        async with conn.transaction():
            counts = await import_rows(conn, "sources", read_rows("sources", src), source=str(src))
        assert (counts.new, counts.pulls) == (1, 0)
        row = await conn.fetchrow("SELECT facilities, credential, pull_interval FROM sources")
        assert row is not None
        assert (row["facilities"], row["credential"], row["pull_interval"]) == (
            ["ca1", "us1"],
            None,
            timedelta(hours=1),
        )
        await conn.execute("UPDATE source_state SET next_pull_at = now() + interval '1 hour'")
        maps = _write(tmp_path, "sm.csv", "source_id,external_id,variant_id\nfeed1,UP-TEE,tee\n")
        async with conn.transaction():
            mapped = await import_rows(
                conn, "source-mappings", read_rows("source-mappings", maps), source=str(maps)
            )
    assert (mapped.new, mapped.pulls) == (1, 1)
    assert await pool.fetchval("SELECT pull_requested_at IS NOT NULL FROM source_state") is True
    assert (await sources_db.load_source(pool, "feed1"))[0].variants == {"UP-TEE": "tee"}


async def test_a_source_naming_an_unknown_facility_is_refused_whole(pool: Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        src = _write(
            tmp_path,
            "sources.csv",
            "id,kind,credential,settings,facilities\nok,http_feed,,,us1\nbad,http_feed,,,us1 zz9\n",
        )
        with pytest.raises(InputError, match=r"sources.csv:3: facility_id: unknown facility 'zz9'"):
            async with conn.transaction():
                await import_rows(conn, "sources", read_rows("sources", src), source=str(src))
    assert await pool.fetchval("SELECT count(*) FROM sources") == 0


async def test_a_new_variant_asks_the_sources_without_mappings_for_a_pull(pool: Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await add_source(pool)  # no mappings: speaks our variant ids, may carry any variant
    await add_source(pool, "mapped", "lv1")
    await pool.execute("INSERT INTO source_mappings VALUES ('mapped', 'UP-MUG', 'mug')")
    await pool.execute("UPDATE source_state SET next_pull_at = now() + interval '1 day'")
    variants = _write(tmp_path, "variants.csv", "id,sku,kind\nhat,HAT,pod\n")
    async with pool.acquire() as conn, conn.transaction():
        counts = await import_rows(conn, "variants", read_rows("variants", variants), source=str(variants))
    assert counts.pulls == 1
    requested = await pool.fetch("SELECT source_id FROM source_state WHERE pull_requested_at IS NOT NULL")
    assert [r["source_id"] for r in requested] == ["feed1"]
