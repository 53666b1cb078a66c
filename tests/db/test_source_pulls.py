"""The puller the scheduler runs: due sources pulled on their own schedule, failures recorded with a
reason that carries no secret, and every pull counted by kind and outcome (aioresponses at the wire)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aioresponses import aioresponses

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.source_pulls import PullResult, SourcePuller
from reconcilers.transport import RetryPolicy
from sources.factory import SourceFactory
from tests.db.seed import seed

FEED = "https://feed.example.test/stock.csv"
TOKEN = "feed-bearer-token-value"


async def puller_for(
    pool: Pool, session: aiohttp.ClientSession, tmp_path: Path, seen: list[PullResult]
) -> SourcePuller:
    (tmp_path / "feed-token").write_text(TOKEN)
    factory = SourceFactory(session, retry=RetryPolicy(attempts=1))
    return SourcePuller(pool, factory, CredentialStore(str(tmp_path)), Config(), "r1", on_pull=seen.append)


async def add_feed(pool: Pool) -> None:
    await pool.execute(
        "INSERT INTO sources (id, kind, credential, settings, facilities) VALUES"
        " ('feed1', 'http_feed', 'feed-token', $1, '{us1}')",
        {"url": FEED, "format": "csv"},
    )
    await pool.execute("INSERT INTO source_state (source_id) VALUES ('feed1')")  # due at once


async def test_a_due_source_is_pulled_and_then_waits_for_its_interval(pool: Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await add_feed(pool)
    seen: list[PullResult] = []
    async with aiohttp.ClientSession() as session:
        puller = await puller_for(pool, session, tmp_path, seen)
        with aioresponses() as mocked:
            mocked.get(FEED, body=b"variant_id,facility_id,status,quantity\ntee,us1,out_of_stock,\n")
            first = await puller.pull_due()
            later = await puller.pull_due()
    assert [(r.outcome, r.rows, r.changed, r.queued) for r in first] == [("applied", 1, 1, 1)]
    assert later == []  # next due in 240 minutes ± 10 %
    delay = await pool.fetchval("SELECT extract(epoch FROM next_pull_at - now()) / 60 FROM source_state")
    assert 210 <= delay <= 265
    assert [r.kind for r in seen] == ["http_feed"]


async def test_a_failed_pull_is_recorded_without_the_secret(pool: Pool, tmp_path: Path) -> None:
    await add_feed(pool)
    seen: list[PullResult] = []
    async with aiohttp.ClientSession() as session:
        puller = await puller_for(pool, session, tmp_path, seen)
        with aioresponses() as mocked:
            mocked.get(FEED, status=401, body=f"token {TOKEN} is not valid".encode())
            [result] = await puller.pull_due()
    assert result.outcome == "failed" and result.error is not None
    error = await pool.fetchval("SELECT last_error FROM source_state")
    assert "HTTP 401" in error and TOKEN not in error and TOKEN not in result.error
    assert seen == [result]


async def test_a_feed_over_max_bytes_is_refused_and_applies_nothing(pool: Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    await add_feed(pool)
    await pool.execute("UPDATE sources SET settings = settings || '{\"max_bytes\": 20}'")
    seen: list[PullResult] = []
    async with aiohttp.ClientSession() as session:
        puller = await puller_for(pool, session, tmp_path, seen)
        with aioresponses() as mocked:
            mocked.get(FEED, body=b"variant_id,facility_id,status,quantity\ntee,us1,out_of_stock,\n")
            [result] = await puller.pull_due()
    assert result.outcome == "refused" and "larger than 20 bytes" in str(result.error)
    assert (
        await pool.fetchval(
            "SELECT status FROM facility_stock WHERE variant_id = 'tee' AND facility_id = 'us1'"
        )
        != "out_of_stock"
    )
